#include "tpo_pending.h"
