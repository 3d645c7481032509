#include "tpo_nav.h"
