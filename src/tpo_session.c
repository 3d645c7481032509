#include "tpo_session.h"
