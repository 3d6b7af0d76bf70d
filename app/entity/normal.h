/*
 * Internal to the record engine (app/entity): the comparison forms of
 * attribute values, written once for the index keys (record.c), the
 * where clauses (where.c) and import's --match (import.c), so that a
 * value found by one is found by the others.  A phone number compares by
 * its digits, an email address and other text in ASCII lower case.
 * Everything returned is borrowed from the input or allocated in the
 * arena passed.
 */
#ifndef FASTCRM_NORMAL_H
#define FASTCRM_NORMAL_H

#include <stddef.h>

#include "fastcrm/arena.h"
#include "fastcrm/entity.h"
#include "fastcrm/json.h"

/* An index key is cut to this many bytes (contact points are not). */
#define NORMAL_KEY_MAX	400

/*
 * The text of a scalar: a string's or number's text, a bool as "true" or
 * "false"; NULL for NULL, null, arrays and objects.  Borrowed from v.
 */
const char	*normal_scalar(const struct json *v);

/*
 * A contact point's comparison form: for FT_PHONE the digits of s, for
 * any other type s in ASCII lower case.
 */
const char	*normal_point(struct arena *, enum ftype, const char *s);

/*
 * The comparison forms of the entries of phone or email attribute f in
 * rec (its phoneNumberData / emailAddressData), empty forms included,
 * into *out, an array with room for one more; returns their number.
 * 0 with *out NULL when the array is missing, not an array or empty.
 */
size_t		 normal_points(struct arena *, const struct field *f,
		    const struct json *rec, const char ***out);

/*
 * The index key of text s of attribute f: a contact point's form
 * (normal_point); a link's id as given; other text in lower case.  Keys
 * other than contact points are cut to NORMAL_KEY_MAX bytes.
 */
const char	*normal_key(struct arena *, const struct field *f,
		    const char *s);

/*
 * The forms that a phone number given in a query matches: its digits,
 * and the digits of its E.164 form (util_phone_e164 with default country
 * code cc) when it has one.  Fills out and returns 1 or 2.
 */
size_t		 normal_phone_query(struct arena *, const char *s,
		    const char *cc, const char *out[2]);

#endif
