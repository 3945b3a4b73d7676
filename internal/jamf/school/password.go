package school

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// PasswordLength is the length of the passwords RandomPassword makes.
const PasswordLength = 20

// The character classes of a random password. No public source states Jamf School's password rules;
// the passwords Jamf's own clients use in their examples and tests ("TestPass123!",
// "SecurePassword123!") mix upper and lower case, digits and a symbol, so a random password holds at
// least one of each. Symbols are limited to a few that need no escaping in JSON, URLs or shells.
const (
	passwordUpper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	passwordLower   = "abcdefghijkmnopqrstuvwxyz"
	passwordDigits  = "23456789"
	passwordSymbols = "!#%+-=_"
)

// RandomPassword returns a new password of PasswordLength characters from crypto/rand, with at least
// one upper-case letter, one lower-case letter, one digit and one symbol, for a user created without
// a password rule. Letters and digits that are easy to confuse (I, l, O, 0, 1) are left out, since a
// teacher may have to read one out to a student. The password is never logged or stored by this
// package.
func RandomPassword() (string, error) {
	classes := []string{passwordUpper, passwordLower, passwordDigits, passwordSymbols}
	all := passwordUpper + passwordLower + passwordDigits + passwordSymbols
	out := make([]byte, PasswordLength)
	for i := range out {
		set := all
		if i < len(classes) {
			set = classes[i] // one of each class first; the shuffle below moves them
		}
		n, err := randIndex(len(set))
		if err != nil {
			return "", err
		}
		out[i] = set[n]
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func randIndex(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("jamfschool: random password: %w", err)
	}
	return int(v.Int64()), nil
}
