/*
 * xmlwalk.h - walk a libxml2 tree in document order without recursion.
 *
 * A page can nest elements 100,000 deep; a recursive walk would let it
 * drive our stack. xml_walk uses the tree's own parent/next links instead.
 * For each node, visit() is called; for an element, a non-zero return
 * means "entered": its children are walked and leave() is called after
 * them. Text and other nodes are visited only. Thread-safe (no state).
 */
#ifndef Q_XMLWALK_H
#define Q_XMLWALK_H

#include <libxml/tree.h>

typedef int (*xml_visit_fn)(xmlNode *n, void *ctx);
typedef void (*xml_leave_fn)(xmlNode *n, void *ctx);

/* Walk root's subtree, root included. leave may be NULL. */
void xml_walk(xmlNode *root, xml_visit_fn visit, xml_leave_fn leave, void *ctx);

#endif
