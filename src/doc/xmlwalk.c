/*
 * xmlwalk.c - iterative document-order walk (see xmlwalk.h).
 */
#include "xmlwalk.h"

void xml_walk(xmlNode *root, xml_visit_fn visit, xml_leave_fn leave, void *ctx)
{
	xmlNode *n = root;

	while (n) {
		int entered = visit(n, ctx) && n->type == XML_ELEMENT_NODE;

		if (entered && n->children) {
			n = n->children;
			continue;
		}
		/* Leave n, then every ancestor whose last child this was. */
		for (;;) {
			if (entered && leave)
				leave(n, ctx);
			if (n == root)
				return;
			if (n->next) {
				n = n->next;
				break;
			}
			n = n->parent;
			entered = 1; /* we only ever descend into entered elements */
		}
	}
}
