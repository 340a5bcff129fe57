/*-------------------------------------------------------------------------
 *
 * pools.c
 *		Parsing and validation of unified_pg.pools.
 *
 * A pool is an application_name with a connection budget.  The setting is
 * a comma-separated list of name:budget pairs.  The check hook parses it
 * into an UpgPoolConfig allocated for the GUC machinery, so a malformed
 * value is refused: by ALTER SYSTEM, and on SIGHUP, where PostgreSQL keeps
 * the old value and logs our detail.  At server start a malformed value in
 * postgresql.conf is reported with a WARNING and the default is used.  The
 * assign hook only swaps a pointer, which cannot fail.
 *
 * Pool names are application_names as clients send them.  We accept
 * printable ASCII without separators, so that a pool name is always safe
 * to show in a view and to compare byte for byte.  "other" stands for the
 * connections that match no pool: it may be given a budget ("other:10"),
 * kept apart from the list of pools.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "unified_pg.h"

const UpgPoolConfig *upg_pool_config = NULL;

static bool upg_pools_parse(const char *value, UpgPoolConfig *config);

/* GUC check hook: parse the whole value or refuse it with a reason. */
bool
upg_pools_check_hook(char **newval, void **extra, GucSource source)
{
	UpgPoolConfig *config;

	config = (UpgPoolConfig *) upg_guc_malloc(sizeof(UpgPoolConfig));
	if (config == NULL)
		return false;

	if (!upg_pools_parse(*newval ? *newval : "", config))
	{
		upg_guc_free(config);
		return false;
	}

	*extra = config;
	return true;
}

/* GUC assign hook: publish the parsed form. */
void
upg_pools_assign_hook(const char *newval, void *extra)
{
	upg_pool_config = (const UpgPoolConfig *) extra;
}

/* Index of the pool named application_name, or -1 for "other". */
int
upg_pool_lookup(const char *application_name)
{
	int			i;

	if (upg_pool_config == NULL || application_name == NULL)
		return -1;
	for (i = 0; i < upg_pool_config->npools; i++)
	{
		if (strcmp(upg_pool_config->pools[i].name, application_name) == 0)
			return i;
	}
	return -1;
}

/* Is c white space between entries? */
static bool
upg_pool_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Is c allowed in a pool name? */
static bool
upg_pool_name_char(char c)
{
	return c > ' ' && c < 127 && c != ',' && c != ':' && c != '"' &&
		c != '\'' && c != '\\';
}

/*
 * Parse "name:budget[,name:budget...]" into config.  Surrounding spaces are
 * allowed; an empty string means no pools.  On failure, set the GUC error
 * detail and return false.
 */
static bool
upg_pools_parse(const char *value, UpgPoolConfig *config)
{
	const char *p = value;

	memset(config, 0, sizeof(UpgPoolConfig));

	while (upg_pool_space(*p))
		p++;
	if (*p == '\0')
		return true;

	for (;;)
	{
		const char *name_start;
		size_t		name_len;
		long		budget;
		char	   *end;
		int			i;

		while (upg_pool_space(*p))
			p++;
		name_start = p;
		while (upg_pool_name_char(*p))
			p++;
		name_len = p - name_start;

		if (name_len == 0)
		{
			if (*p != '\0' && *p != ',' && *p != ':')
				GUC_check_errdetail("Pool names are printable ASCII without , : ' \" or \\; found byte 0x%02x at position %d.",
									(unsigned char) *p, (int) (p - value) + 1);
			else
				GUC_check_errdetail("Each entry must look like application_name:budget.");
			return false;
		}
		if (name_len >= UPG_POOL_NAME_LEN)
		{
			GUC_check_errdetail("Pool name \"%.*s...\" is longer than %d bytes.",
								20, name_start, UPG_POOL_NAME_LEN - 1);
			return false;
		}
		while (upg_pool_space(*p))
			p++;
		if (*p != ':')
		{
			if (*p != '\0' && *p != ',')
				GUC_check_errdetail("Pool names are printable ASCII without , : ' \" or \\; found byte 0x%02x at position %d.",
									(unsigned char) *p, (int) (p - value) + 1);
			else
				GUC_check_errdetail("Pool \"%.*s\" has no budget; write it as name:budget.",
									(int) name_len, name_start);
			return false;
		}
		p++;
		while (upg_pool_space(*p))
			p++;
		if (*p < '0' || *p > '9')
		{
			GUC_check_errdetail("Budget of pool \"%.*s\" must be a positive integer.",
								(int) name_len, name_start);
			return false;
		}
		errno = 0;
		budget = strtol(p, &end, 10);
		if (errno != 0 || budget < 1 || budget > MAX_BACKENDS)
		{
			GUC_check_errdetail("Budget of pool \"%.*s\" must be between 1 and %d.",
								(int) name_len, name_start, MAX_BACKENDS);
			return false;
		}
		p = end;

		if (name_len == strlen("other") && strncmp(name_start, "other", name_len) == 0)
		{
			/* "other" is no pool of its own: only a budget for the rest */
			if (config->other_budget != 0)
			{
				GUC_check_errdetail("Pool \"other\" is listed more than once.");
				return false;
			}
			config->other_budget = (int) budget;
			goto next;
		}
		for (i = 0; i < config->npools; i++)
		{
			if (strlen(config->pools[i].name) == name_len &&
				strncmp(config->pools[i].name, name_start, name_len) == 0)
			{
				GUC_check_errdetail("Pool \"%.*s\" is listed more than once.",
									(int) name_len, name_start);
				return false;
			}
		}
		if (config->npools >= UPG_MAX_POOLS)
		{
			GUC_check_errdetail("At most %d pools can be configured.", UPG_MAX_POOLS);
			return false;
		}
		memcpy(config->pools[config->npools].name, name_start, name_len);
		config->pools[config->npools].name[name_len] = '\0';
		config->pools[config->npools].budget = (int) budget;
		config->npools++;

next:
		while (upg_pool_space(*p))
			p++;
		if (*p == '\0')
			return true;
		if (*p != ',')
		{
			GUC_check_errdetail("Entries must be separated by commas; found something else after the budget of pool \"%.*s\".",
								(int) name_len, name_start);
			return false;
		}
		p++;
	}
}
