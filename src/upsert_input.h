/*-------------------------------------------------------------------------
 *
 * upsert_input.h
 *		The rules for one upsert_chunks element, shared by its two inputs.
 *
 * upsert_chunks takes a batch as jsonb (src/operations.c walks it with the
 * jsonb iterator) or as JSON text (src/upsert_text.c parses it with
 * PostgreSQL's JSON parser).  Both hand each element's keys, in jsonb's key
 * order and each key once, to upg_input_pair as UpgInputValues, so that
 * one set of rules decides what every key may hold, with one set of
 * errors, and upg_parsed_result sorts and checks the batch for both.
 *
 *-------------------------------------------------------------------------
 */
#ifndef UPSERT_INPUT_H
#define UPSERT_INPUT_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "unified_pg.h"

/* attribute numbers of unified.chunk_input (checked against the type) */
enum
{
	Anum_ci_ord = 1,
	Anum_ci_present,
	Anum_ci_source,
	Anum_ci_source_collection,
	Anum_ci_source_id,
	Anum_ci_project_id,
	Anum_ci_cognee_dataset_id,
	Anum_ci_content,
	Anum_ci_relative_path,
	Anum_ci_start_line,
	Anum_ci_end_line,
	Anum_ci_file_extension,
	Anum_ci_chunk_index,
	Anum_ci_embedding,
	Anum_ci_embedding_model,
	Anum_ci_metadata,
	Anum_ci_created_at,
	Anum_ci_updated_at,
	Natts_ci = Anum_ci_updated_at
};

/* the keys an element may have (upg_input_keys in operations.c) */
#define UPG_NINPUT_KEYS 16

/* a value's JSON type */
typedef enum UpgJsonType
{
	UPG_JSON_NULL,
	UPG_JSON_STRING,
	UPG_JSON_NUMBER,
	UPG_JSON_BOOL,
	UPG_JSON_ARRAY,
	UPG_JSON_OBJECT
} UpgJsonType;

/*
 * One value of an element.  A scalar is a JsonbValue (jbvNumeric for a
 * number).  An array or object is, on the jsonb path, its container (and
 * scalar the jbvBinary value); on the text path its JSON text, and for
 * "embedding" the elements already read.
 */
typedef struct UpgInputValue
{
	UpgJsonType type;
	JsonbValue	scalar;
	JsonbContainer *container;
	const char *json;
	int			jsonlen;
	const UpgEmbeddingBuf *embedding;
} UpgInputValue;

/* one parsed element, with its key for sorting */
typedef struct UpgParsedChunk
{
	int			ord;
	Datum		values[Natts_ci];
	bool		nulls[Natts_ci];
	text	   *key[3];			/* source, source_collection, source_id */
} UpgParsedChunk;

/* an element being parsed */
typedef struct UpgChunkBuilder
{
	UpgParsedChunk *pc;
	bool		seen[UPG_NINPUT_KEYS];
	Datum		present[UPG_NINPUT_KEYS];
	int			npresent;
} UpgChunkBuilder;

extern int	upg_input_key_index(const char *name, int len);
extern const char *upg_input_key_name(int i);
extern bool upg_input_key_required(int i);
extern const char *upg_json_type_name(UpgJsonType t);
extern void upg_bad_chunk(int ord, int sqlstate, const char *detail);
extern void upg_input_begin(UpgChunkBuilder *b, int ord);
extern void upg_input_pair(UpgChunkBuilder *b, const char *key, int len, UpgInputValue *v);
extern UpgParsedChunk *upg_input_end(UpgChunkBuilder *b);
extern void upg_chunks_null_error(void);
extern void upg_chunks_not_array_error(bool object);
extern void upg_chunk_not_object_error(int ord, UpgJsonType type);
extern Datum upg_parsed_result(FunctionCallInfo fcinfo, UpgParsedChunk **parsed, int n);
extern Datum upg_upsert_chunks_from_jsonb(FunctionCallInfo fcinfo, Jsonb *jb);

#endif							/* UPSERT_INPUT_H */
