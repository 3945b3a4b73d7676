package naming

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var student = Data{
	Serial: "DMPXK2ABCD12", AssetTag: "A-77", Barcode: "T 5001", FirstName: "mary-jane", MiddleName: "Q",
	LastName: "o'BRIEN", FullName: "mary-jane o'BRIEN", DistrictID: "S123", Username: "mobrien",
	Email: "MOBrien@example.org", Grade: "09", Homeroom: "Room 12", Teachers: []string{"Alan Turing", "Grace Hopper"},
	School: "LHS", SchoolName: "Lincoln High School", Building: "Lincoln High",
}

func TestRender(t *testing.T) {
	tests := []struct {
		name string
		text string
		data Data
		want string
	}{
		{"the CRD default student rule renders last, first - serial", "{{.LastName}}, {{.FirstName}} - {{.Serial}}", student, "o'BRIEN, mary-jane - DMPXK2ABCD12"},
		{"the CRD default standard rule renders STU-serial", "STU-{{.Serial}}", student, "STU-DMPXK2ABCD12"},
		{"a rule without actions renders its text", "Return to Library", Data{}, "Return to Library"},
		{"upper upper-cases", "{{upper .LastName}}", student, "O'BRIEN"},
		{"lower lower-cases", "{{lower .Email}}", student, "mobrien@example.org"},
		{"title capitalises every word, after hyphens and apostrophes too", "{{title .FullName}}", student, "Mary-Jane O'Brien"},
		{"trim removes surrounding space", "[{{trim .Homeroom}}]", Data{Homeroom: "  Room 1 "}, "[Room 1]"},
		{"trunc keeps the first n characters", "{{trunc 4 .Serial}}", student, "DMPX"},
		{"trunc counts runes, not bytes", "{{trunc 2 .FirstName}}", Data{FirstName: "Zoë"}, "Zo"},
		{"trunc keeps a multi-byte rune whole", "{{trunc 3 .FirstName}}", Data{FirstName: "Zoë"}, "Zoë"},
		{"trunc longer than the value keeps the value", "{{trunc 50 .Grade}}", student, "09"},
		{"trunc works in a pipeline", "{{.LastName | upper | trunc 3}}", student, "O'B"},
		{"replace replaces every occurrence", "{{replace \" \" \"_\" .SchoolName}}", student, "Lincoln_High_School"},
		{"default keeps a value that is present", "{{default \"none\" .Grade}}", student, "09"},
		{"default replaces an empty value", "{{default \"none\" .Grade}}", Data{}, "none"},
		{"default replaces a blank value", "{{default \"none\" .Grade}}", Data{Grade: "  "}, "none"},
		{"initial is the first character", "{{initial .FirstName}}{{.LastName}}", Data{FirstName: "Émile", LastName: "Zola"}, "ÉZola"},
		{"initial of an empty value is empty", "{{initial .MiddleName}}", Data{}, ""},
		{"join joins the teachers", "{{join \", \" .Teachers}}", student, "Alan Turing, Grace Hopper"},
		{"join of no teachers is empty", "{{join \", \" .Teachers}}", Data{}, ""},
		{"range over the teachers is allowed", "{{range $i, $t := .Teachers}}{{if $i}}/{{end}}{{initial $t}}{{end}}", student, "A/G"},
		{"with renders the CRD default position only when the grade is known", "{{with .Grade}}Grade {{.}}{{end}}", student, "Grade 09"},
		{"with renders nothing when the grade is unknown", "{{with .Grade}}Grade {{.}}{{end}}", Data{}, ""},
		{"$ reaches the record inside with", "{{with .Grade}}{{$.School}}-{{.}}{{end}}", student, "LHS-09"},
		{"built-in comparisons are allowed", "{{if eq .School \"LHS\"}}high{{else}}other{{end}}", student, "high"},
		{"index and len are allowed", "{{if gt (len .Teachers) 1}}{{index .Teachers 1}}{{end}}", student, "Grace Hopper"},
		{"surrounding whitespace of the result is trimmed", "  {{.Grade}}  ", student, "09"},
		{"an empty field renders empty", "{{.AssetTag}}", Data{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Compile("naming.test", tt.text)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tmpl.Render(tt.data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // in the message
	}{
		{"a parse error names the rule", "{{.Serial", "naming.student: template: naming.student:1:"},
		{"an unknown function is a parse error", "{{env \"HOME\"}}", `function "env" not defined`},
		{"printf is not allowed (unbounded width)", "{{printf \"%09999999d\" 1}}", `function "printf" is not allowed`},
		{"print is not allowed", "{{print .Serial}}", `function "print" is not allowed`},
		{"call is not allowed", "{{call .Serial}}", `function "call" is not allowed`},
		{"html, js and urlquery are not in the documented set", "{{urlquery .Serial}}", `function "urlquery" is not allowed`},
		{"an unknown field names the data model", "{{.Grde}}", "unknown field .Grde (the data model is"},
		{"an unknown field through $ is refused", "{{with .Grade}}{{$.Nope}}{{end}}", "unknown field .Nope"},
		{"fields of a string do not exist", "{{.Serial.Length}}", ".Serial has no fields"},
		{"define is not allowed", `{{define "x"}}a{{end}}{{.Serial}}`, "define and block are not allowed"},
		{"block is not allowed", `{{block "x" .}}a{{end}}`, "define and block are not allowed"},
		{"template invocation is not allowed", `{{template "naming.student" .}}`, "is not allowed"},
		{"range over a number is not allowed", "{{range 1000000000}}{{end}}", "range must be over a field"},
		{"range over a variable is not allowed", "{{$n := 1000000000}}{{range $n}}{{end}}", "range must be over a field"},
		{"nested range is not allowed", "{{range .Teachers}}{{range $.Teachers}}x{{end}}{{end}}", "a range inside a range is not allowed"},
		{"a type error is found at compile time", "{{upper .Teachers}}", "wrong type"},
		{"a negative trunc is found at compile time", "{{trunc -1 .Serial}}", "trunc: negative length"},
		{"an empty template is refused", "", "empty template"},
		{"a template over the source limit is refused", strings.Repeat("a", MaxSourceLen+1), "over the limit"},
		{"a template that explodes through replace is refused", strings.Repeat(`{{$x := "aaaaaaaaaaaaaaaa"}}`, 1) + `{{replace "" $x (replace "" $x (replace "" $x (replace "" $x .Serial)))}}`, "replace: result of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Compile("naming.student", tt.text)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error containing %q", tt.text, tmpl, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) || te.Rule != "naming.student" || te.Render {
				t.Fatalf("error %T %v: want a compile *Error of rule naming.student", err, err)
			}
			if !strings.HasPrefix(err.Error(), "naming.student: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want prefix %q and %q in it", err, "naming.student: ", tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		data  Data
		want  string
	}{
		{"a value over the limit is an error, never truncated", "{{.LastName}}", 5, Data{LastName: "Lovelace"}, "rendered 8 characters, over the limit of 5"},
		{"the limit counts characters, not bytes", "{{.LastName}}", 3, Data{LastName: "ÉÉÉÉ"}, "rendered 4 characters"},
		{"a newline inside the value is an error", "{{.FirstName}}", MaxLen, Data{FirstName: "Ada\nLovelace"}, "control character"},
		{"index out of range on this record is a render error", "{{index .Teachers 2}}", MaxLen, Data{Teachers: []string{"A", "B", "C"}}, ""},
		{"a data-dependent index error names the rule", "{{index .Teachers 2}}", MaxLen, Data{Teachers: []string{"A"}}, "index out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := CompileLimit("fields.user.realName", tt.text, tt.limit)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tmpl.Render(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Render = %v, want no error", err)
				}
				return
			}
			var te *Error
			if !errors.As(err, &te) || !te.Render || te.Rule != "fields.user.realName" {
				t.Fatalf("Render = %q, %v: want a render *Error of the rule", got, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRenderOfNilTemplateIsAnError(t *testing.T) {
	var tmpl *Template
	if _, err := tmpl.Render(student); err == nil {
		t.Fatal("nil template rendered without error")
	}
}

func TestCompileLimitRejectsANonPositiveLimit(t *testing.T) {
	if _, err := CompileLimit("x", "a", 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func TestFullName(t *testing.T) {
	tests := []struct{ name, first, last, want string }{
		{"first and last are joined by one space", "Ada", "Lovelace", "Ada Lovelace"},
		{"a missing first name leaves the last", "", "Lovelace", "Lovelace"},
		{"a missing last name leaves the first", "Ada", " ", "Ada"},
		{"surrounding spaces are trimmed", " Ada ", " Lovelace ", "Ada Lovelace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FullName(tt.first, tt.last); got != tt.want {
				t.Errorf("FullName(%q, %q) = %q, want %q", tt.first, tt.last, got, tt.want)
			}
		})
	}
}

func FuzzCompileRender(f *testing.F) {
	for _, s := range []string{
		"{{.LastName}}, {{.FirstName}} - {{.Serial}}", "STU-{{.Serial}}", "{{with .Grade}}Grade {{.}}{{end}}",
		"{{range .Teachers}}{{initial .}}{{end}}", `{{replace "" "ab" .Serial}}`, "{{trunc 3 .FirstName | upper}}",
		`{{define "a"}}{{template "a"}}{{end}}`, "{{range 10}}x{{end}}", "{{join \"-\" .Teachers | title}}",
	} {
		f.Add(s, "Zoë", "DMPX k2", "Alan Turing")
	}
	f.Fuzz(func(t *testing.T, text, first, serial, teacher string) {
		tmpl, err := Compile("fuzz", text)
		if err != nil {
			return
		}
		d := Data{FirstName: first, LastName: first, Serial: serial, Teachers: []string{teacher, teacher, teacher}, Grade: serial}
		out, err := tmpl.Render(d)
		if err != nil {
			return
		}
		if utf8.RuneCountInString(out) > MaxLen {
			t.Fatalf("output of %d characters over the limit", utf8.RuneCountInString(out))
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("output %q not trimmed", out)
		}
	})
}

func TestPlainTemplatesRenderAsTextTemplateDoes(t *testing.T) {
	odd := Data{Serial: " x{{y}} ", FirstName: "<b>&", LastName: "%d", FullName: "Ada\u00a0L", Email: "e@x", Homeroom: "R 1"}
	for _, text := range []string{
		"{{.LastName}}, {{.FirstName}} - {{.Serial}}", "STU-{{.Serial}}", "{{.Username}}", "{{.FullName}}",
		"{{.Email}}", "{{.Homeroom}}", "a{{/* comment */}}b{{.Grade}}", "Return to Library",
	} {
		tmpl, err := Compile("plain", text)
		if err != nil {
			t.Fatalf("Compile(%q): %v", text, err)
		}
		if tmpl.parts == nil {
			t.Errorf("%q does not take the plain path", text)
		}
		for _, d := range []Data{student, odd, {}} {
			fast, err1 := tmpl.execute(&d)
			slow, err2 := tmpl.executeTemplate(&d)
			if err1 != nil || err2 != nil || fast != slow {
				t.Errorf("%q: plain path %q (%v), text/template %q (%v)", text, fast, err1, slow, err2)
			}
		}
	}
}

func TestCompileFields(t *testing.T) {
	class := Data{Title: "Algebra 1", ClassCode: "ALG1-3", Period: "3", School: "LHS", SchoolCode: "LHS",
		SchoolName: "Lincoln High School", Grade: "09", Location: "B-20", Serial: "SERIAL"}
	tests := []struct {
		name    string
		fields  []string
		text    string
		want    string // rendered over class
		wantErr string // in the compile error
	}{
		{name: "a class name renders school code, title and period", fields: ClassFields, text: "{{.SchoolCode}} {{.Title}} {{.Period}}", want: "LHS Algebra 1 3"},
		{name: "a class name renders class code, grade, location and school name", fields: ClassFields, text: "{{.ClassCode}}/{{.Grade}}/{{.Location}}/{{.SchoolName}}/{{.School}}", want: "ALG1-3/09/B-20/Lincoln High School/LHS"},
		{name: "a class name with functions goes through text/template", fields: ClassFields, text: "{{upper .Title}} {{default \"-\" .Period}}", want: "ALGEBRA 1 3"},
		{name: "a device field in a class name is a compile error naming the allowed fields", fields: ClassFields, text: "{{.Serial}}",
			wantErr: "unknown field .Serial (the data model is .ClassCode .Grade .Location .Period .School .SchoolCode .SchoolName .Title)"},
		{name: "a device field through $ is refused too", fields: ClassFields, text: "{{with .Title}}{{$.Serial}}{{end}}", wantErr: "unknown field .Serial"},
		{name: "a group name may use the person's fields", fields: PersonFields, text: "{{.SchoolCode}}-{{.Grade}}", want: "LHS-09"},
		{name: "a class field in a group name is a compile error", fields: PersonFields, text: "{{.Title}}",
			wantErr: "unknown field .Title (the data model is .DistrictID .FirstName .Grade .LastName .School .SchoolCode .SchoolName .Username)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := CompileFields("roster.classes.name", tt.text, tt.fields...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "roster.classes.name: ") {
					t.Fatalf("CompileFields(%q) error %v, want one containing %q", tt.text, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CompileFields: %v", err)
			}
			got, err := tmpl.Render(class)
			if err != nil || got != tt.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDeviceRulesCannotUseClassFields(t *testing.T) {
	for _, f := range []string{"Title", "ClassCode", "Period", "SchoolCode", "Location"} {
		if _, err := Compile("naming.student", "{{."+f+"}}"); err == nil || !strings.Contains(err.Error(), "unknown field ."+f) {
			t.Errorf("Compile({{.%s}}) error %v, want unknown field", f, err)
		}
	}
}
