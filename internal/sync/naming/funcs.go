package naming

import (
	"fmt"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// funcs are the safe functions of the package doc. Each one bounds what it builds by maxWork.
var funcs = template.FuncMap{
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"title":   title,
	"trim":    strings.TrimSpace,
	"trunc":   trunc,
	"replace": replace,
	"default": dflt,
	"initial": initial,
	"join":    join,
}

// title upper-cases the first letter of every word and lower-cases the others; a word starts after any
// character that is not a letter or a digit ("mary-jane o'brien" -> "Mary-Jane O'Brien").
func title(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	start := true
	for _, r := range s {
		if unicode.IsLetter(r) {
			if start {
				b.WriteRune(unicode.ToTitle(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			start = false
			continue
		}
		b.WriteRune(r)
		start = !unicode.IsDigit(r)
	}
	return b.String()
}

func trunc(n int, s string) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("trunc: negative length %d", n)
	}
	if n >= len(s) {
		return s, nil
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos], nil
		}
		i++
	}
	return s, nil
}

func replace(old, repl, s string) (string, error) {
	if old == repl {
		return s, nil
	}
	count := strings.Count(s, old)
	if count == 0 {
		return s, nil
	}
	if size := len(s) + count*(len(repl)-len(old)); size > maxWork {
		return "", fmt.Errorf("replace: result of %d bytes is over %d", size, maxWork)
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func dflt(def, s string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func initial(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

var errJoinTooLong = fmt.Errorf("join: result over %d bytes", maxWork)

func join(sep string, list []string) (string, error) {
	if len(list) == 0 {
		return "", nil
	}
	size := len(sep) * (len(list) - 1)
	for _, s := range list {
		size += len(s)
		if size > maxWork {
			return "", errJoinTooLong
		}
	}
	if size > maxWork {
		return "", errJoinTooLong
	}
	return strings.Join(list, sep), nil
}
