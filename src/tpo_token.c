#include "tpo_token.h"
