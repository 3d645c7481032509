#include "tpo_cache_memcache.h"
