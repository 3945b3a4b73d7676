package engine

// RosterSource is a Source that joins a roster to what it reads. The engine tells the planner the roster
// is there (an active student it has no row for is skipped NotInRoster) and how many students it has
// (the measure of safety.maxRosterShrink).
type RosterSource interface {
	// RosterRows is the number of students the roster has, and whether the source has a roster at all.
	RosterRows() (rows int, configured bool)
}

// RosterRows implements RosterSource: the students of the roster read for this run.
func (s *DestinySource) RosterRows() (int, bool) {
	if s.Roster == nil {
		return 0, false
	}
	return len(s.Roster.Students), true
}
