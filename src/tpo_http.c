#include "tpo_http.h"
