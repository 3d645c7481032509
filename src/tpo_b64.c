#include "tpo_b64.h"
