#include "tpo_provider.h"
