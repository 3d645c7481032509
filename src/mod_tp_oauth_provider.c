#include "mod_tp_oauth_private.h"
