/*
 * fuzz_json.c — libFuzzer target for common/json.c: parse anything; whatever
 * parses is walked with every getter, written back with the JSON writer, and
 * the written text must parse again to the same tree (round trip).
 * Must not: allocate outside the modules under test, or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void
walk(const struct json_value *v, struct json_w *w, int depth)
{
	size_t i, n, len;
	const char *key, *s;
	int64_t iv;
	int b;

	switch (json_type(v)) {
	case JSON_NULL:
		if (!json_is_null(v))
			abort();
		json_w_null(w);
		break;
	case JSON_BOOL:
		if (json_bool(v, &b) < 0)
			abort();
		json_w_bool(w, b);
		break;
	case JSON_NUMBER:
		s = json_num_text(v);
		if (s == NULL)
			abort();
		(void)json_int(v, &iv);
		json_w_raw(w, s, strlen(s));
		break;
	case JSON_STRING:
		s = json_strn(v, &len);
		if (s == NULL || strlen(s) != len || !json_utf8_valid(s, len))
			abort();
		json_w_strn(w, s, len);
		break;
	case JSON_ARRAY:
		json_w_begin_arr(w);
		n = json_arr_len(v);
		for (i = 0; i < n; i++)
			walk(json_arr_at(v, i), w, depth + 1);
		if (json_arr_at(v, n) != NULL)
			abort();
		json_w_end_arr(w);
		break;
	case JSON_OBJECT:
		json_w_begin_obj(w);
		n = json_obj_len(v);
		for (i = 0; i < n; i++) {
			const struct json_value *m = json_obj_at(v, i, &key);
			if (m == NULL || key == NULL)
				abort();
			(void)json_get(v, key);
			(void)json_get_str(v, key);
			json_w_key(w, key);
			walk(m, w, depth + 1);
		}
		json_w_end_obj(w);
		break;
	default:
		abort();
	}
}

/* 1 if a and b are the same tree */
static int
same(const struct json_value *a, const struct json_value *b)
{
	size_t i, n, la, lb;
	const char *ka, *kb, *sa, *sb;

	if (json_type(a) != json_type(b))
		return 0;
	switch (json_type(a)) {
	case JSON_NUMBER:
		return strcmp(json_num_text(a), json_num_text(b)) == 0;
	case JSON_STRING:
		sa = json_strn(a, &la);
		sb = json_strn(b, &lb);
		return la == lb && memcmp(sa, sb, la) == 0;
	case JSON_BOOL: {
		int x, y;
		json_bool(a, &x);
		json_bool(b, &y);
		return x == y;
	}
	case JSON_ARRAY:
		n = json_arr_len(a);
		if (n != json_arr_len(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!same(json_arr_at(a, i), json_arr_at(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT:
		n = json_obj_len(a);
		if (n != json_obj_len(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!same(json_obj_at(a, i, &ka), json_obj_at(b, i, &kb)) ||
			    strcmp(ka, kb) != 0)
				return 0;
		return 1;
	default:
		return 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc doc, again;
	struct cf_buf out;
	struct json_w w;

	if (json_parse(&doc, data, size, 256 * 1024) < 0) {
		json_doc_free(&doc);
		return 0;
	}
	cf_buf_init(&out, 4 * 1024 * 1024);
	json_w_init(&w, &out);
	walk(doc.root, &w, 0);
	/* the writer nests less deeply than the parser: a refusal there is
	 * fine, anything it does write must read back the same */
	if (json_w_finish(&w) == 0) {
		if (json_parse(&again, out.data, out.len, out.max) < 0 ||
		    !same(doc.root, again.root))
			abort();
		json_doc_free(&again);
	}
	cf_buf_free(&out);
	json_doc_free(&doc);
	return 0;
}
