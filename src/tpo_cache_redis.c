#include "tpo_cache_redis.h"
