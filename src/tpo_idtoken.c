#include "tpo_idtoken.h"
