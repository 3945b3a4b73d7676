package roster

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// largeBundle is a district of n students, each in one homeroom and 7 scheduled classes (8 enrollments), with
// 25 students a class and one teacher a class.
func largeBundle(n int) fstest.MapFS {
	const perClass, scheduled = 25, 7
	homerooms := (n + perClass - 1) / perClass
	sections := homerooms * scheduled
	var users, classes, enrol strings.Builder
	users.WriteString(usersHeader + "\n")
	classes.WriteString(classesHeader + "\n")
	enrol.WriteString(enrollmentsHeader + "\n")
	teachers := homerooms + sections
	for t := 0; t < teachers; t++ {
		fmt.Fprintf(&users, "t%d,,,true,org1,teacher,teacher%d,,Given%d,\"Family, %d\",,T%d,teacher%d@example.org,,,,,secret\n", t, t, t, t, t, t)
	}
	for c := 0; c < homerooms; c++ {
		fmt.Fprintf(&classes, "hr%d,,,Room %d,09,,HR%d,homeroom,B-%d,org1,t1,,,\n", c, c, c, c)
		fmt.Fprintf(&enrol, "eh%d,,,hr%d,org1,t%d,teacher,true,2026-08-15,2027-06-05\n", c, c, c)
	}
	for c := 0; c < sections; c++ {
		fmt.Fprintf(&classes, "sec%d,,,\"Course %d, section %d\",09,,C%d,scheduled,B-%d,org1,t1,,,\n", c, c%50, c, c, c)
		fmt.Fprintf(&enrol, "es%d,,,sec%d,org1,t%d,teacher,true,2026-08-15,2027-06-05\n", c, c, homerooms+c)
	}
	for s := 0; s < n; s++ {
		fmt.Fprintf(&users, "s%d,,,true,org1,student,student%d,,Given%d,Family%d,,S%06d,student%d@example.org,,,,%02d,secret\n", s, s, s, s, s, s, 9+s%4)
		hr := s / perClass
		fmt.Fprintf(&enrol, "e%d-0,,,hr%d,org1,s%d,student,false,2026-08-15,2027-06-05\n", s, hr, s)
		for k := 0; k < scheduled; k++ {
			sec := ((hr+k*7)%homerooms)*scheduled + k
			fmt.Fprintf(&enrol, "e%d-%d,,,sec%d,org1,s%d,student,false,2026-08-15,2027-06-05\n", s, k+1, sec, s)
		}
	}
	return fstest.MapFS{
		UsersFile:       {Data: []byte(users.String())},
		ClassesFile:     {Data: []byte(classes.String())},
		EnrollmentsFile: {Data: []byte(enrol.String())},
	}
}

func TestLargeBundleIsReadWithoutProblems(t *testing.T) {
	const n = 2000
	ros, err := ReadOneRoster(largeBundle(n), Options{Today: today})
	if err != nil {
		t.Fatal(err)
	}
	if len(ros.Students) != n || len(ros.Problems) != 0 {
		t.Fatalf("%d students, problems %v; want %d and none", len(ros.Students), ros.Problems, n)
	}
	s := ros.Students["S000030"]
	if s.Homeroom != "Room 1" || len(s.Teachers) != 8 || s.Grade != "11" {
		t.Errorf("student S000030 = %+v, want homeroom Room 1, grade 11 and 8 teachers", s)
	}
}

// BenchmarkReadOneRoster50k reads a 50,000-student bundle (400,000 enrollments).
func BenchmarkReadOneRoster50k(b *testing.B) {
	fsys := largeBundle(50000)
	size := 0
	for _, f := range fsys {
		size += len(f.Data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	read := func() *Roster {
		ros, err := ReadOneRoster(fsys, Options{Today: today})
		if err != nil || len(ros.Students) != 50000 || len(ros.Problems) != 0 {
			b.Fatalf("err %v, %d students, %d problems", err, len(ros.Students), len(ros.Problems))
		}
		return ros
	}
	retained := retainedMiB(read)
	for b.Loop() {
		read()
	}
	b.ReportMetric(retained, "retained-MiB")
}

// retainedMiB is what a roster keeps alive once read (MiB of live heap after a collection, the files it
// was read from excluded): what a run holds for it while it syncs.
func retainedMiB(read func() *Roster) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	ros := read()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ros)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (1 << 20)
}

func BenchmarkReadSISPatrons50k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(sisHeader + "\n")
	for s := 0; s < 50000; s++ {
		fmt.Fprintf(&sb, "LHS,P%06d,S%06d,Family%d,Given%d,,Student,A,%02d,\"Room %d, B\",s%d@example.org,s%d\n", s, s, s, s, 9+s%4, s/25, s, s)
	}
	fsys := fstest.MapFS{"p.csv": {Data: []byte(sb.String())}}
	b.SetBytes(int64(sb.Len()))
	b.ReportAllocs()
	read := func() *Roster {
		ros, err := ReadSISPatrons(fsys, "p.csv", Options{})
		if err != nil || len(ros.Students) != 50000 {
			b.Fatalf("err %v, %d students", err, len(ros.Students))
		}
		return ros
	}
	retained := retainedMiB(read)
	for b.Loop() {
		read()
	}
	b.ReportMetric(retained, "retained-MiB")
}
