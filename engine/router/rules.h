/* Rule routing: each expert's keywords (whole words, case-insensitive) and pattern (a PCRE2 regular
 * expression, case-insensitive, UTF-8), tried in expert order; the first expert with a match wins. */
#ifndef VKSLM_ROUTER_RULES_H
#define VKSLM_ROUTER_RULES_H

#include <stddef.h>

#include "vkslm.h"

typedef struct vkslm_rules vkslm_rules;

/* A pattern that does not compile is refused with the expert's name and the offset of the error. */
vkslm_status vkslm_rules_create(const vkslm_expert_desc *experts, size_t n, vkslm_rules **out);
void vkslm_rules_free(vkslm_rules *r);
/* The first expert whose rule matches text, or -1. */
int vkslm_rules_match(const vkslm_rules *r, const char *text);
#endif
