/*
 * config_lex.c — cuts twinfs.conf into statements, one per line.
 *
 * The syntax is line-oriented on purpose: every statement (`name {`, `}` or
 * `key = value`) is exactly one line, so an error can always name the line and the
 * lexer can resynchronise at the next newline. The lexer never reads past `len` (the
 * input need not be NUL-terminated), copies at most CONFIG__LINE_MAX characters of a
 * line, and refuses NUL and other control bytes: a config file is text.
 *
 * A `#` starts a comment anywhere outside double quotes. Inside quotes the only
 * escapes are \" and \\, so a Windows path or a regular expression is never
 * reinterpreted silently.
 */
#include <stdarg.h>
#include <string.h>

#include "config/config_int.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_space(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* Only blanks or a comment may follow a complete statement. */
static bool is_line_end(const char *s)
{
	s = skip_space(s);
	return *s == '\0' || *s == '#';
}

__attribute__((format(printf, 2, 3))) static void fail(struct config__stmt *st, const char *fmt,
						       ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

/* Shows one byte of the input in a message: 'c' when printable, else 0xNN. */
static const char *show_char(char *buf, size_t n, char c)
{
	unsigned char u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "0x%02x", u);
	return buf;
}

/* Unescapes a "quoted string" whose opening quote is at s[-1]. */
static void lex_quoted(const char *s, struct config__stmt *st)
{
	size_t n = 0;
	char c[8];

	for (; *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			if (*s != '"' && *s != '\\') {
				fail(st,
				     "unknown escape: backslash before %s in the string for '%s'; "
				     "expected \\\" or \\\\",
				     show_char(c, sizeof(c), *s), st->name);
				return;
			}
		} else if (*s == '\0' || *s == '\\') {
			fail(st,
			     "unterminated string for '%s'; expected a closing '\"' on the same "
			     "line",
			     st->name);
			return;
		}
		st->value[n++] = *s; /* fits: never longer than the line it comes from */
	}
	st->value[n] = '\0';
	st->quoted = true;
	if (!is_line_end(s + 1))
		fail(st, "unexpected text after the string for '%s'; expected the end of the line",
		     st->name);
}

/* A bare value runs to the end of the line or to a comment, minus trailing blanks. */
static void lex_bare(const char *s, struct config__stmt *st)
{
	size_t n = strcspn(s, "#");

	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n == 0) {
		fail(st, "missing value for '%s'; expected '%s = value'", st->name, st->name);
		return;
	}
	if (memchr(s, '"', n)) {
		fail(st,
		     "stray '\"' in the value for '%s'; expected the whole value in double quotes",
		     st->name);
		return;
	}
	memcpy(st->value, s, n);
	st->value[n] = '\0';
}

/* s points just past the name; what follows decides the kind of statement. */
static void lex_after_name(const char *s, struct config__stmt *st)
{
	char c[8];

	s = skip_space(s);
	if (*s == '{') {
		st->kind = CONFIG__ST_OPEN;
		if (!is_line_end(s + 1))
			fail(st,
			     "unexpected text after '%s {'; expected the block's keys on the lines "
			     "below",
			     st->name);
	} else if (*s == '=') {
		st->kind = CONFIG__ST_ASSIGN;
		s = skip_space(s + 1);
		if (*s == '"')
			lex_quoted(s + 1, st);
		else
			lex_bare(s, st);
	} else if (*s == '\0' || *s == '#') {
		st->kind = CONFIG__ST_ASSIGN; /* most likely a value was meant */
		fail(st, "'%s' alone on a line; expected '%s = value' or '%s {'", st->name,
		     st->name, st->name);
	} else {
		st->kind = CONFIG__ST_ASSIGN;
		fail(st, "unexpected %s after '%s'; expected '=' or '{'",
		     show_char(c, sizeof(c), *s), st->name);
	}
}

static void lex_statement(const char *s, struct config__stmt *st)
{
	size_t n;
	char c[8];

	s = skip_space(s);
	if (is_line_end(s))
		return;
	if (*s == '}') {
		st->kind = CONFIG__ST_CLOSE;
		if (!is_line_end(s + 1))
			fail(st, "unexpected text after '}'; expected '}' alone on its line");
		return;
	}
	if (!is_name_start(*s)) {
		fail(st, "unexpected %s; expected a key, a block name or '}'",
		     show_char(c, sizeof(c), *s));
		return;
	}
	for (n = 0; is_name_char(s[n]); n++)
		;
	if (n > CONFIG__NAME_MAX) {
		fail(st, "name '%.*s...' is too long; expected at most %d characters",
		     CONFIG__NAME_MAX, s, CONFIG__NAME_MAX);
		return;
	}
	memcpy(st->name, s, n);
	st->name[n] = '\0';
	lex_after_name(s + n, st);
}

/*
 * A line may hold tabs and any byte from 0x20 up except DEL; UTF-8 passes. Control
 * bytes are copied as blanks so that the rest of the line is still understood (a key
 * keeps counting as set), and the first one is reported in place of any other error.
 */
static void copy_line(char *buf, const char *s, size_t n, struct config__stmt *st)
{
	size_t bad = n;

	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)s[i];
		bool ctl = (u < 0x20 && u != '\t') || u == 0x7f;

		if (ctl && bad == n)
			bad = i;
		buf[i] = ctl ? ' ' : s[i];
	}
	buf[n] = '\0';
	lex_statement(buf, st);
	if (bad < n)
		fail(st, "control character 0x%02x at column %zu; expected printable text",
		     (unsigned char)s[bad], bad + 1);
}

void config__lex_init(struct config__lexer *lx, const char *text, size_t len)
{
	lx->text = text;
	lx->len = text ? len : 0;
	lx->pos = 0;
	lx->line = 0;
}

bool config__lex_next(struct config__lexer *lx, struct config__stmt *st)
{
	char buf[CONFIG__LINE_MAX + 1];
	const char *s = lx->text + lx->pos;
	const char *nl;
	size_t n;

	if (lx->pos >= lx->len)
		return false;
	nl = memchr(s, '\n', lx->len - lx->pos);
	n = nl ? (size_t)(nl - s) : lx->len - lx->pos;
	lx->pos += n + (nl != NULL);
	lx->line++;
	st->kind = CONFIG__ST_BLANK;
	st->name[0] = '\0';
	st->value[0] = '\0';
	st->quoted = false;
	st->why[0] = '\0';
	if (n > 0 && s[n - 1] == '\r') /* tolerate CRLF files */
		n--;
	if (n > CONFIG__LINE_MAX) {
		fail(st, "line is %zu characters long; expected at most %d", n, CONFIG__LINE_MAX);
		return true;
	}
	copy_line(buf, s, n, st);
	return true;
}
