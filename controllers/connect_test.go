package controllers

import (
	"strings"
	"testing"
)

func TestRosterPathsStayUnderTheManagersRosterRoot(t *testing.T) {
	cases := []struct {
		name, root, path string
		wantErr          string
	}{
		{"no roster root: no path is allowed", "", "/rosters/lincoln", "allows no roster directory"},
		{"a directory under the root is allowed", "/rosters", "/rosters/lincoln", ""},
		{"the root itself is allowed", "/rosters", "/rosters", ""},
		{"climbing out with .. is refused", "/rosters", "/rosters/../etc", "not under"},
		{"a sibling whose name starts like the root is refused", "/rosters", "/rosters-other/x", "not under"},
		{"another directory is refused", "/rosters", "/var/run/secrets", "not under"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Connector{RosterRoot: tc.root}).checkRosterPath(tc.path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}
