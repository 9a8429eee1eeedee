/*
 * prompts.h - the texts a research run sends to the model, in one place
 * so they can be read and compared side by side (run.c and compose.c only
 * fill in the data: the question, the sources, the findings).
 *
 * Every system prompt carries the run's date (a model without it dates
 * "recent" events by its training cut-off). The phrases the fake model
 * of the tests keys on ("Plan research", "<source ", "still unanswered",
 * "<finding id=") are part of the contract with tests/fakellm.c.
 */
#ifndef Q_PROMPTS_H
#define Q_PROMPTS_H

#include <jansson.h>

#include "../core/qbuf.h"

/* The roles of the system prompts. */
extern const char PROMPT_PLAN_ROLE[];
extern const char PROMPT_NOTE_ROLE[];
extern const char PROMPT_REFLECT_ROLE[];
extern const char PROMPT_WRITE_ROLE[];
/* The user turn that asks for the rest of a reply cut at its length limit. */
extern const char PROMPT_CONTINUE[];

/* role, then "Today is DATE." into out (date may be ""). */
void prompt_system(struct qbuf *out, const char *role, const char *date);

/* The plan's task for question: sub-questions, queries (one for data,
 * one for disagreement), outline and the research brief, as JSON. */
void prompt_plan(struct qbuf *out, const char *question, int breadth, const char *lang_name);

/* The brief (NULL or an object: answer, sections, tables, entities,
 * time_window) as a block of lines for the later steps; nothing when
 * empty. */
void prompt_brief(struct qbuf *out, const json_t *brief);

/* The note step's task after the <source> block. */
void prompt_note_task(struct qbuf *out, int max_findings, const char *lang_name);

/* The reflection's task after what is known and the queries used. */
void prompt_reflect_task(struct qbuf *out, int breadth);

/* The writer's task after the findings: quick is `ask`'s short answer;
 * words the report's length; outline whether an outline was given; the
 * brief's sections and tables are followed literally. */
void prompt_write_task(struct qbuf *out, const char *lang_name, int quick, int words, int outline,
		       const json_t *brief);

/* The re-outline after research: sections (the brief's, literally, when
 * it has them) and the findings each is written from, as JSON. */
void prompt_outline_task(struct qbuf *out, const json_t *brief, int max_sections);

/* One section's task, written in parallel with the others. */
void prompt_section_task(struct qbuf *out, const char *title, const char *lang_name, int words);

/* The lead: the direct answer, from the sections written. */
void prompt_lead_task(struct qbuf *out, const char *lang_name);

#endif
