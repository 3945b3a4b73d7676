package roster

import (
	"bytes"
	"encoding/csv"
	"maps"
	"strings"
	"testing/fstest"
	"time"
)

// The OneRoster 1.1 CSV headers, column for column as the spec lists them.
const (
	usersHeader       = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
	classesHeader     = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods"
	enrollmentsHeader = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate"
)

// r is one CSV row given by column name; columns not named are empty.
type r map[string]string

// csvText writes header and rows as CSV (quoting where needed), rows placed by header column name.
func csvText(header string, rows ...r) string {
	cols := strings.Split(header, ",")
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(cols)
	for _, row := range rows {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = row[c]
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return b.String()
}

var today = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func userRow(id, role, given, family, identifier, grades string) r {
	return r{"sourcedId": id, "enabledUser": "true", "orgSourcedIds": "org1", "role": role, "username": strings.ToLower(given) + "." + strings.ToLower(family),
		"givenName": given, "familyName": family, "identifier": identifier, "email": strings.ToLower(given) + "@example.org", "grades": grades, "password": "hunter2"}
}

func classRow(id, title, code, typ, location string) r {
	return r{"sourcedId": id, "title": title, "classCode": code, "classType": typ, "location": location, "schoolSourcedId": "org1", "termSourcedIds": "t1"}
}

func enrolRow(id, class, user, role string) r {
	return r{"sourcedId": id, "classSourcedId": class, "schoolSourcedId": "org1", "userSourcedId": user, "role": role}
}

// baseUsers, baseClasses and baseEnrollments: two teachers, two students, a homeroom and a scheduled class.
func baseUsers() []r {
	return []r{
		userRow("t1", "teacher", "Jordan", "Lee", "T1", ""),
		userRow("t2", "teacher", "Sam", "Park", "T2", ""),
		userRow("s1", "student", "Avery", "Smith", "S100", "09"),
		userRow("s2", "student", "Blake", "Jones", "S200", "10"),
	}
}

func baseClasses() []r {
	return []r{
		classRow("hr1", "Room 12", "HR12", "homeroom", "B-12"),
		classRow("math", "Algebra 1", "ALG1-3", "scheduled", "B-20"),
	}
}

func baseEnrollments() []r {
	return []r{
		enrolRow("e1", "hr1", "t1", "teacher"),
		enrolRow("e2", "math", "t2", "teacher"),
		enrolRow("e3", "hr1", "s1", "student"),
		enrolRow("e4", "math", "s1", "student"),
		enrolRow("e5", "math", "s2", "student"),
	}
}

func bundle(users, classes, enrollments []r) fstest.MapFS {
	return fstest.MapFS{
		UsersFile:       {Data: []byte(csvText(usersHeader, users...))},
		ClassesFile:     {Data: []byte(csvText(classesHeader, classes...))},
		EnrollmentsFile: {Data: []byte(csvText(enrollmentsHeader, enrollments...))},
		"orgs.csv":      {Data: []byte("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\norg1,,,Lincoln High,school,LHS,\n")},
	}
}

func baseBundle() fstest.MapFS { return bundle(baseUsers(), baseClasses(), baseEnrollments()) }

// with returns a copy of fsys with file set to data (nil data removes it).
func with(fsys fstest.MapFS, file string, data []byte) fstest.MapFS {
	out := maps.Clone(fsys)
	if data == nil {
		delete(out, file)
	} else {
		out[file] = &fstest.MapFile{Data: data}
	}
	return out
}

func avery() Student {
	return Student{Key: "S100", Grade: "09", Homeroom: "Room 12", Teachers: []string{"Jordan Lee", "Sam Park"}, School: "org1",
		GivenName: "Avery", FamilyName: "Smith", Email: "avery@example.org", Username: "avery.smith"}
}

func blake() Student {
	return Student{Key: "S200", Grade: "10", Teachers: []string{"Sam Park"}, School: "org1",
		GivenName: "Blake", FamilyName: "Jones", Email: "blake@example.org", Username: "blake.jones"}
}

func problemStrings(ps []Problem) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}

// studentValues is a roster's students as values, to compare with what a test expects.
func studentValues(m map[string]*Student) map[string]Student {
	out := make(map[string]Student, len(m))
	for k, s := range m {
		out[k] = *s
	}
	return out
}
