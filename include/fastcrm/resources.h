/*
 * The resource modules' table (app/resources/resources.c): every entity
 * the program has, handed to the engine at start with
 * entity_register(resources) by whoever starts the process (main(), the
 * test programs).
 */
#ifndef FASTCRM_RESOURCES_H
#define FASTCRM_RESOURCES_H

#include "fastcrm/entity.h"

/* NULL-terminated; static, lives as long as the process. */
extern const struct entity_def *const resources[];

#endif
