#include "tpo_cache_shm.h"
