#include "tpo_pkce.h"
