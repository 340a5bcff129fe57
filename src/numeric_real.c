/*-------------------------------------------------------------------------
 *
 * numeric_real.c
 *		A decimal as real, correctly rounded: from a numeric without
 *		numeric_out, or from a JSON number's text without a numeric.
 *
 * The jsonb parser turns every JSON number into a numeric, so an embedding
 * sent as a JSON array of numbers (what JSON.stringify makes of a chunk)
 * reaches upsert_chunks as 768 or more numerics per chunk.  PostgreSQL's
 * own numeric-to-real cast formats each one as text (numeric_out) and reads
 * it back with strtod, then rounds the double to float: two allocations and
 * two conversions per element, and a double rounding that can be off by one
 * unit in the last place.  This file reads the numeric's digits directly;
 * and for the text form of upsert_chunks, which never makes a numeric, it
 * reads a JSON number's text (the second part below).  Both inputs meet in
 * one fast path, upg_decimal_real_fast, and fall back to strtof.
 *
 * The digits.  A numeric is stored as base-10000 digits d[0..n-1] with a
 * weight w: its value is the sum of d[i] * 10000^(w - i).  That layout is
 * PostgreSQL's on-disk format for numeric (pg_upgrade keeps it across major
 * versions); the header bits are decoded below, from numeric.c's
 * description of them.  The NaN and infinities are "special" numerics
 * (both high bits of the header set) and are refused by the caller.
 *
 * Correct rounding, in two paths:
 *
 *	- fast: with at most four base-10000 digits (or 19 significant decimal
 *	  digits of a JSON number) the value is M * 10^e for an integer M, and
 *	  |e| <= 22 in every case an embedding API produces.  When M <= 2^53 both M and 10^|e| are exact doubles, so one
 *	  multiplication or division gives the correctly rounded double d of
 *	  the exact value x.  Rounding d to float then gives the correctly
 *	  rounded float of x unless d is exactly halfway between two floats:
 *	  every such midpoint is itself a double, so rounding to double never
 *	  moves a value across one, and can only land on it (a bit test of d
 *	  finds that).  In that (rare) case, and whenever the conditions above
 *	  fail, the slow path decides.
 *	- slow: the digits are written out as "-0.dddd...e<exp>" (a stack
 *	  buffer; palloc for a numeric longer than that) and read with strtof,
 *	  which rounds correctly.  Overflow is an error for the caller; a value
 *	  below the smallest subnormal rounds to zero, as strtof does.
 *
 * The fast path never overflows or reaches the subnormal range (its
 * results lie between 10^-22 and 2^53 * 10^22, about 9 * 10^37), so only
 * the slow path meets those edges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "unified_pg.h"

/* numeric's on-disk header (see the banner) */
#define UPG_NUM_SIGN_MASK		0xC000
#define UPG_NUM_NEG				0x4000
#define UPG_NUM_SHORT			0x8000
#define UPG_NUM_SPECIAL			0xC000
#define UPG_NUM_SHORT_NEG		0x2000
#define UPG_NUM_SHORT_WEIGHT_NEG 0x0040
#define UPG_NUM_SHORT_WEIGHT	0x003F
#define UPG_NBASE				10000
#define UPG_DEC_DIGITS			4

/* the fraction bits of a double that a float does not have, and half a float's ulp */
#define UPG_FLOAT_DROPPED_BITS	((UINT64CONST(1) << 29) - 1)
#define UPG_FLOAT_HALF_ULP		(UINT64CONST(1) << 28)

/* the slow path's stack buffer: numerics up to this many base-10000 digits */
#define UPG_NUM_STACK_DIGITS	32

/* 10^0 .. 10^22, the powers of ten that are exact doubles */
static const double upg_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* A numeric's sign, weight and base-10000 digits, read from its header. */
typedef struct UpgNumericDigits
{
	bool		special;		/* NaN or an infinity */
	bool		negative;
	int			weight;
	int			ndigits;
	const int16 *digits;
} UpgNumericDigits;

/* Decode the header of num (see the banner). */
static void
upg_numeric_digits(Numeric num, UpgNumericDigits *nd)
{
	const char *data = VARDATA_ANY(num);
	int			len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int			hdr;

	memcpy(&header, data, sizeof(uint16));
	nd->special = (header & UPG_NUM_SIGN_MASK) == UPG_NUM_SPECIAL;
	if (nd->special)
	{
		nd->negative = false;
		nd->weight = 0;
		nd->ndigits = 0;
		nd->digits = NULL;
		return;
	}
	if ((header & UPG_NUM_SIGN_MASK) == UPG_NUM_SHORT)
	{
		nd->negative = (header & UPG_NUM_SHORT_NEG) != 0;
		nd->weight = (header & UPG_NUM_SHORT_WEIGHT) |
			((header & UPG_NUM_SHORT_WEIGHT_NEG) ? ~UPG_NUM_SHORT_WEIGHT : 0);
		hdr = sizeof(uint16);
	}
	else
	{
		int16		w;

		nd->negative = (header & UPG_NUM_SIGN_MASK) == UPG_NUM_NEG;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		nd->weight = w;
		hdr = sizeof(uint16) + sizeof(int16);
	}
	nd->ndigits = (len - hdr) / (int) sizeof(int16);
	/* numeric data is int16-aligned within any varlena */
	nd->digits = (const int16 *) (data + hdr);
}

/*
 * The fast path: *out and true when the value m * 10^e10 has m <= 2^53 and
 * |e10| <= 22 and the rounded double is not a float midpoint.  Shared by
 * both inputs (a numeric's digits, a JSON number's text).
 */
static bool
upg_decimal_real_fast(uint64 m, int e10, bool negative, float *out)
{
	double		d;
	uint64		bits;
	float		f;

	if (m > (UINT64CONST(1) << 53) || e10 > 22 || e10 < -22)
		return false;

	d = (e10 >= 0) ? (double) m * upg_pow10[e10] : (double) m / upg_pow10[-e10];

	/*
	 * d exactly halfway between two floats?  d lies in the range of normal
	 * floats here, whose doubles have the low 29 of the 52 fraction bits
	 * zero; the midpoints between neighbours (also across a power of two)
	 * have exactly the highest of those 29 bits set.
	 */
	memcpy(&bits, &d, sizeof(bits));
	if ((bits & UPG_FLOAT_DROPPED_BITS) == UPG_FLOAT_HALF_ULP)
		return false;
	f = (float) d;
	*out = negative ? -f : f;
	return true;
}

/* The fast path for a numeric: at most four base-10000 digits. */
static bool
upg_numeric_real_fast(const UpgNumericDigits *nd, float *out)
{
	uint64		m = 0;

	if (nd->ndigits > 4)
		return false;
	for (int i = 0; i < nd->ndigits; i++)
		m = m * UPG_NBASE + (uint64) nd->digits[i];
	return upg_decimal_real_fast(m, UPG_DEC_DIGITS * (nd->weight - nd->ndigits + 1),
								 nd->negative, out);
}

/*
 * The slow path: the digits as "-0.dddd...e<exp>", read by strtof.  Returns
 * false on overflow.
 */
static bool
upg_numeric_real_slow(const UpgNumericDigits *nd, float *out)
{
	char		stackbuf[UPG_NUM_STACK_DIGITS * UPG_DEC_DIGITS + 32];
	char	   *buf = stackbuf;
	char	   *p;
	float		f;

	if (nd->ndigits > UPG_NUM_STACK_DIGITS)
		buf = palloc(nd->ndigits * UPG_DEC_DIGITS + 32);
	p = buf;
	if (nd->negative)
		*p++ = '-';
	*p++ = '0';
	*p++ = '.';
	for (int i = 0; i < nd->ndigits; i++)
	{
		int			d = nd->digits[i];

		p[0] = '0' + d / 1000;
		p[1] = '0' + (d / 100) % 10;
		p[2] = '0' + (d / 10) % 10;
		p[3] = '0' + d % 10;
		p += 4;
	}
	if (nd->ndigits == 0)
		*p++ = '0';
	/* 0.d[0]d[1]... is the value times 10000^-(weight + 1) */
	sprintf(p, "e%d", UPG_DEC_DIGITS * (nd->weight + 1));

	errno = 0;
	f = strtof(buf, NULL);
	if (buf != stackbuf)
		pfree(buf);
	if (isinf(f))
		return false;
	*out = f;
	return true;
}

/*
 * num as real, correctly rounded to nearest (ties to even).  Returns
 * UPG_NUMERIC_REAL_OK and sets *out, or UPG_NUMERIC_REAL_NOT_FINITE for
 * NaN and the infinities, or UPG_NUMERIC_REAL_OUT_OF_RANGE when the value
 * rounds beyond the largest real.  Values too small for real round to a
 * subnormal or to zero.
 */
UpgNumericRealResult
upg_numeric_to_real(Numeric num, float *out)
{
	UpgNumericDigits nd;

	upg_numeric_digits(num, &nd);
	if (nd.special)
		return UPG_NUMERIC_REAL_NOT_FINITE;
	if (nd.ndigits == 0)
	{
		*out = 0.0f;
		return UPG_NUMERIC_REAL_OK;
	}
	if (upg_numeric_real_fast(&nd, out))
		return UPG_NUMERIC_REAL_OK;
	return upg_numeric_real_slow(&nd, out) ? UPG_NUMERIC_REAL_OK : UPG_NUMERIC_REAL_OUT_OF_RANGE;
}

/* ---------------------------------------------------------------------
 * A JSON number's text as real (the text entry point of upsert_chunks).
 *
 * The jsonb parser makes a numeric of every number with numeric_in, and
 * upg_numeric_to_real rounds that.  Here the token is read directly: its
 * significant digits (at most 19) and decimal exponent go to the same fast
 * path, and what that path declines goes to strtof on the token itself,
 * which rounds the same exact decimal value correctly, so the two inputs
 * give the same real.  The sign of zero follows the numeric: a numeric has
 * no negative zero, so a token whose digits are all zero gives +0, while a
 * nonzero negative value that underflows gives -0 on both paths.
 *
 * A token longer than UPG_JSON_NUMBER_MAX_LEN or with an exponent beyond
 * +-UPG_JSON_NUMBER_MAX_EXP is left to numeric_in, exactly as the jsonb
 * parser does: numeric_in refuses some of those (an exponent it cannot
 * hold), with its own errors, and the text path must refuse them alike.
 * Below those bounds numeric_in accepts every JSON number.
 * ---------------------------------------------------------------------
 */
#define UPG_JSON_NUMBER_MAX_LEN	64
#define UPG_JSON_NUMBER_MAX_EXP	300

/* A JSON number token's parts; false when it is beyond the bounds above. */
typedef struct UpgJsonDecimal
{
	bool		negative;
	bool		inexact;		/* more than 19 significant digits */
	uint64		m;				/* the significant digits */
	int			e10;			/* value = m * 10^e10 (when !inexact) */
} UpgJsonDecimal;

static bool
upg_json_decimal(const char *token, UpgJsonDecimal *dec)
{
	const char *p = token;
	int			nsig = 0;
	int			nfrac = 0;
	bool		in_frac = false;
	bool		exp_negative = false;
	int			exp = 0;

	dec->negative = (*p == '-');
	dec->inexact = false;
	dec->m = 0;
	if (dec->negative)
		p++;
	for (;; p++)
	{
		if (*p == '.' && !in_frac)
		{
			in_frac = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		if (in_frac)
			nfrac++;
		if (dec->m == 0 && *p == '0')
			continue;			/* a leading zero */
		if (nsig == 19)
			dec->inexact = true;	/* m is then unused: strtof reads the token */
		else
		{
			dec->m = dec->m * 10 + (uint64) (*p - '0');
			nsig++;
		}
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		exp_negative = (*p == '-');
		if (*p == '-' || *p == '+')
			p++;
		for (; *p >= '0' && *p <= '9'; p++)
		{
			exp = exp * 10 + (*p - '0');
			if (exp > UPG_JSON_NUMBER_MAX_EXP)
				return false;
		}
	}
	dec->e10 = (exp_negative ? -exp : exp) - nfrac;
	return (p - token) <= UPG_JSON_NUMBER_MAX_LEN;
}

/*
 * A JSON number token (as the json lexer accepted it) as real: the result
 * upg_numeric_to_real gives for numeric_in(token), and numeric_in's error
 * where it raises one.
 */
UpgNumericRealResult
upg_json_number_to_real(const char *token, float *out)
{
	UpgJsonDecimal dec;
	float		f;

	if (!upg_json_decimal(token, &dec))
	{
		Numeric		num = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
															  ObjectIdGetDatum(InvalidOid),
															  Int32GetDatum(-1)));
		UpgNumericRealResult r = upg_numeric_to_real(num, out);

		pfree(num);
		return r;
	}
	if (dec.m == 0)
	{
		*out = 0.0f;			/* numeric has no negative zero */
		return UPG_NUMERIC_REAL_OK;
	}
	if (!dec.inexact)
	{
		while (dec.m % 10 == 0)
		{
			dec.m /= 10;
			dec.e10++;
		}
		if (upg_decimal_real_fast(dec.m, dec.e10, dec.negative, out))
			return UPG_NUMERIC_REAL_OK;
	}
	errno = 0;
	f = strtof(token, NULL);
	if (isinf(f))
		return UPG_NUMERIC_REAL_OUT_OF_RANGE;
	*out = f;
	return UPG_NUMERIC_REAL_OK;
}

/*
 * Raise what the jsonb parser would raise for this JSON number token (an
 * error of numeric_in), if anything.
 */
void
upg_json_number_check(const char *token)
{
	UpgJsonDecimal dec;

	if (!upg_json_decimal(token, &dec))
		pfree(DatumGetPointer(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
												  ObjectIdGetDatum(InvalidOid),
												  Int32GetDatum(-1))));
}
