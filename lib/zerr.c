#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zerr.h"

static _Thread_local char message[1024];

void zerr_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
}

void zerr_prefix(const char *fmt, ...)
{
	char prefix[512], old[sizeof message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, message, sizeof old);
	snprintf(message, sizeof message, "%.500s: %.500s", prefix, old);
}

const char *zerr_msg(void)
{
	return message[0] ? message : "unknown error";
}

void zerr_clear(void)
{
	message[0] = '\0';
}
