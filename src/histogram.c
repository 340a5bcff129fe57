/*-------------------------------------------------------------------------
 *
 * histogram.c
 *		The log-spaced latency histogram behind pool_stats' percentiles.
 *
 * Values are whole microseconds.  Below 16 us every microsecond has its own
 * bucket; from there on each power of two is split into 16 equal buckets
 * (the layout of HdrHistogram with 4 sub-bucket bits), up to 2^32 us,
 * about 71.6 minutes; anything longer falls into one overflow bucket.
 * That is 464 finite buckets, about 53 per decade, and no bucket is wider
 * than 1/16 = 6.25 % of its lower bound.  A percentile is interpolated
 * linearly inside the bucket that holds its rank, so it is off by less
 * than one bucket width: within 6.25 % of the true value (or 1 us, for
 * values below 16 us).  pg_stat_monitor's default of 4 buckets per decade
 * can be off by 78 %.
 *
 * Finding a bucket is a count-leading-zeros and two shifts: no loop, no
 * floating point, cheap enough for every statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_bitutils.h"

#include "utils/float.h"

#include "pool_stats.h"

/* Bucket of a value in microseconds. */
int
upg_hist_bucket(uint64 value_us)
{
	int			e;
	int			m;

	if (value_us < UPG_HIST_SUB)
		return (int) value_us;
	e = pg_leftmost_one_pos64(value_us);
	if (e >= UPG_HIST_MAX_EXP)
		return UPG_HIST_FINITE;
	m = (int) ((value_us >> (e - UPG_HIST_SUB_BITS)) & (UPG_HIST_SUB - 1));
	return UPG_HIST_SUB + (e - UPG_HIST_SUB_BITS) * UPG_HIST_SUB + m;
}

/* Smallest value (us) counted in a bucket. */
double
upg_hist_lower_us(int bucket)
{
	int			e;
	int			m;

	if (bucket < UPG_HIST_SUB)
		return (double) bucket;
	if (bucket >= UPG_HIST_FINITE)
		return ldexp(1.0, UPG_HIST_MAX_EXP);
	e = UPG_HIST_SUB_BITS + (bucket - UPG_HIST_SUB) / UPG_HIST_SUB;
	m = (bucket - UPG_HIST_SUB) % UPG_HIST_SUB;
	return ldexp((double) (UPG_HIST_SUB + m), e - UPG_HIST_SUB_BITS);
}

/*
 * Exclusive upper bound (us) of a bucket: every value counted in it is
 * below this, which makes it the bucket's Prometheus "le".  Infinity for
 * the overflow bucket.
 */
double
upg_hist_upper_us(int bucket)
{
	if (bucket >= UPG_HIST_FINITE)
		return get_float8_infinity();
	if (bucket < UPG_HIST_SUB)
		return (double) (bucket + 1);
	return upg_hist_lower_us(bucket + 1);
}

/*
 * The p-quantile (0 < p <= 1) of a histogram in milliseconds, interpolated
 * inside its bucket; NaN when the histogram is empty.  A quantile in the
 * overflow bucket is reported as that bucket's lower bound.
 */
double
upg_hist_percentile_ms(const uint64 *counts, double p)
{
	uint64		total = 0;
	double		rank;
	double		below = 0;
	int			i;

	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		total += counts[i];
	if (total == 0)
		return get_float8_nan();

	rank = p * (double) total;
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
	{
		double		c = (double) counts[i];
		double		lo;

		if (c == 0 || below + c < rank)
		{
			below += c;
			continue;
		}
		lo = upg_hist_lower_us(i);
		if (i == UPG_HIST_FINITE)
			return lo / 1000.0;
		return (lo + (upg_hist_upper_us(i) - lo) * ((rank - below) / c)) / 1000.0;
	}
	return upg_hist_lower_us(UPG_HIST_FINITE) / 1000.0;	/* not reached */
}
