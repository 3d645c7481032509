#include "tpo_cache_crypt.h"
