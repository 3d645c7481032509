#include "tpo_jose.h"
