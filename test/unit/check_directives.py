#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""make check: the directive table, README.md's directive sections and
conf/tp_oauth.conf agree.

The table is read through test/unit/directive_dump (built from
src/mod_tp_oauth_directive_table.h and src/tpo_defaults.h): one line per
directive, "name<TAB>context<TAB>default" ("-": none or computed).

Fails when
  - a directive of the table has no "### " heading in README's "## Directives"
    (a heading may name several), or a heading names a directive the table
    does not have;
  - a section lacks its "- Syntax:", "- Default:" or "- Context:" line;
  - the Context line is not the table's context;
  - the table has a default and the Default line does not show it
    (`value` or `Directive value`);
  - conf/tp_oauth.conf mentions a TPOAuth directive the table does not have;
  - (self-test) a copy of README/conf broken on purpose passes.

Usage: check_directives.py [DUMP README CONF]; under `make check` the paths
come from $srcdir and the build directory.
"""
import os
import re
import subprocess
import sys

CONTEXT = {
    "SERVER": "server config",
    "PROVIDER": "`<TPOAuthProvider>`",
    "DIR": "directory",
    "SECTION": "server config, virtual host",
    "SERVER_DIR": "server config, virtual host, directory",
}
NAME = re.compile(r"(?:<|&lt;)?/?TPOAuth[A-Za-z]+")


def table(dump):
    out = subprocess.run([dump], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, ctx, default = line.split("\t")
        rows[name] = (ctx, None if default == "-" else default)
    return rows


def norm_name(word):
    return word.replace("&lt;", "<")


def readme_sections(text):
    m = re.search(r"^## Directives\n(.*?)(?=^## )", text, re.S | re.M)
    if not m:
        return None
    sections = []
    for block in re.split(r"^### ", m.group(1), flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        names = [norm_name(w).replace("&gt;", "") for w in NAME.findall(head)]
        fields, key = {}, None
        for line in body.splitlines():
            fm = re.match(r"- (Syntax|Default|Context|Description):\s*(.*)", line)
            if fm:
                key = fm.group(1)
                fields[key] = fm.group(2)
            elif key and line.startswith("  ") and line.strip():
                fields[key] += " " + line.strip()
            else:
                key = None
        for k in fields:
            fields[k] = " ".join(fields[k].split())
        sections.append((head.strip(), names, fields))
    return sections


def check(rows, readme_text, conf_text, conf_name="conf/tp_oauth.conf"):
    """The disagreements, as messages."""
    errors = []
    sections = readme_sections(readme_text)
    if sections is None:
        errors.append("README.md: no '## Directives' section")
        sections = []
    seen = {}
    for head, names, fields in sections:
        if not names:
            errors.append(f"README.md: '### {head}' names no directive")
        for want in ("Syntax", "Default", "Context"):
            if want not in fields:
                errors.append(f"README.md: '### {head}' has no '- {want}:' line")
        for name in names:
            if name not in rows:
                errors.append(f"README.md: '### {head}' documents {name}, which is not in "
                              "the directive table")
                continue
            if name in seen:
                errors.append(f"README.md: {name} is documented twice ('### {seen[name]}', "
                              f"'### {head}')")
            seen[name] = head
            ctx, default = rows[name]
            context = re.sub(r"\s*\(.*\)$", "", fields.get("Context", ""))
            if "Context" in fields and context != CONTEXT[ctx]:
                errors.append(f"README.md: {name}: Context is '{fields['Context']}', the "
                              f"table says '{CONTEXT[ctx]}'")
            if default is not None and "Default" in fields:
                shown = fields["Default"]
                bare = name.lstrip("<")
                if f"`{default}`" not in shown and f"`{bare} {default}`" not in shown:
                    errors.append(f"README.md: {name}: Default is '{shown}', the table "
                                  f"(tpo_defaults.h) says '{default}'")
    for name in rows:
        if name not in seen:
            errors.append(f"README.md: {name} has no '### ' section under '## Directives'")
    for lineno, line in enumerate(conf_text.splitlines(), 1):
        for word in NAME.findall(line):
            name = word.replace("</", "<")
            if name not in rows:
                errors.append(f"{conf_name}:{lineno}: {word} is not a directive of the table")
    return errors, len(sections)


def self_test(rows, readme_text, conf_text):
    """The check must be able to fail: a wrong default, a wrong context, a
    missing section and an unknown directive in the conf file are each found."""
    problems = []
    name, (ctx, default) = next((n, v) for n, v in rows.items() if v[1] and v[1].isdigit())
    wrong = readme_text.replace(f"- Default: `{default}`", f"- Default: `{default}1`", 1)
    if wrong == readme_text or not check(rows, wrong, conf_text)[0]:
        problems.append(f"a changed default of {name} was not noticed")
    wrong = readme_text.replace("- Context: server config\n", "- Context: directory\n", 1)
    if wrong == readme_text or not check(rows, wrong, conf_text)[0]:
        problems.append("a changed context was not noticed")
    wrong = readme_text.replace("### TPOAuthClientID\n", "### Client\n", 1)
    if wrong == readme_text or not check(rows, wrong, conf_text)[0]:
        problems.append("a missing section was not noticed")
    if not check(rows, readme_text, conf_text + "\n# TPOAuthNoSuchDirective on\n")[0]:
        problems.append("an unknown directive in the conf file was not noticed")
    return problems


def main(argv):
    if len(argv) == 4:
        dump, readme, conf = argv[1:]
    else:
        src = os.environ.get("srcdir", ".")
        dump = os.path.join(".", "test", "unit", "directive_dump")
        readme = os.path.join(src, "README.md")
        conf = os.path.join(src, "conf", "tp_oauth.conf")
    rows = table(dump)
    readme_text = open(readme, encoding="utf-8").read()
    conf_text = open(conf, encoding="utf-8").read()
    errors, nsections = check(rows, readme_text, conf_text, conf)
    if not errors:
        errors = ["self-test: " + p for p in self_test(rows, readme_text, conf_text)]
    for e in errors:
        print(e, file=sys.stderr)
    print(f"check_directives: {len(rows)} directives, {nsections} README sections, "
          f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
