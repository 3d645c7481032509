#include "tpo_cookie.h"
