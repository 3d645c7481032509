#include "tpo_url.h"
