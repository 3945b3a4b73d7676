// Package naming renders the device-name and field rules of a DeviceSyncPolicy: Go text/template
// templates over a small, documented data model (Data), with only safe functions.
//
// # Data model
//
// A template sees one Data value:
//
//	.Serial      the normalised serial number (serial.Normalize)
//	.AssetTag    the Destiny item's asset tag (may be empty)
//	.Barcode     the Destiny item barcode
//	.FirstName .MiddleName .LastName  the borrower's names as Destiny returns them
//	.FullName    "First Last" (either part may be missing; never padded)
//	.DistrictID  the borrower's district id
//	.Username    the roster username when the roster knows the student, else the email
//	.Email       the borrower's email (Destiny's, else the roster's)
//	.Grade .Homeroom  from the roster ("" without one)
//	.Teachers    the student's teachers, a []string (sorted; empty without a roster)
//	.School      the Destiny site short name, for example LHS
//	.SchoolName  the school's display name
//	.Building    the Jamf Pro building (or Jamf School location) the school maps to
//
// Roster sync's templates see a narrower model, enforced by CompileFields: class names ClassFields
// (.Title .ClassCode .Period .School .SchoolCode .SchoolName .Grade .Location, where .SchoolCode is the
// site short name again and .Location the classes.csv location), group names PersonFields (.School
// .SchoolCode .SchoolName .Grade .FirstName .LastName .Username .DistrictID). Device rules cannot use
// the class-only fields.
//
// Fields a rule does not have (for example the names on a device nobody holds) are empty strings.
//
// # Functions
//
//	upper s, lower s, trim s        case and surrounding whitespace
//	title s                         first letter of every word upper case, the rest lower ("o'brien" -> "O'Brien")
//	trunc n s                       the first n characters (runes, never a broken UTF-8 sequence); n < 0 is an error
//	replace old new s               every old replaced by new
//	default def s                   s, or def when s is empty or blank
//	initial s                       the first character of s (after trimming), "" when s is empty
//	join sep list                   the list joined with sep
//
// plus the harmless built-ins and, or, not, eq, ne, lt, le, gt, ge, len, index and slice, and the actions
// if, with, range (over a field such as .Teachers, not nested) and variables. Everything that could read
// files or the environment, call arbitrary functions, print with unbounded width (printf) or loop without
// bound (template, define, block, range over a number, nested range) is refused by Compile.
//
// # Limits
//
// A rendered value has surrounding whitespace trimmed. A value longer than the template's limit (in
// characters) is an error, never silently truncated: a truncated name would collide or mislead. The
// Jamf Pro schema (reference/jamf-pro/api-schema-subset.json, Jamf Pro 11.30.1) declares no maxLength
// for the mobile device name or for the location fields (username, realName, emailAddress, position,
// room); it declares maxLength 225 for a department name. MaxLen (255) is therefore the limit of every
// rule: it is the common column size of Jamf's database for these fields and the limit the CRD puts on
// building and location names. MaxDepartmentLen (225) is the schema's limit for department rules
// (CompileLimit). A value containing a control character (newline, tab, ...) is an error too: no MDM
// field should hold one.
package naming

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxLen is the default limit, in characters, of a rendered value (see the package doc).
	MaxLen = 255
	// MaxDepartmentLen is the Jamf Pro schema's maxLength of a department name.
	MaxDepartmentLen = 225
	// MaxSourceLen is the longest template text Compile accepts (the CRD allows 1024).
	MaxSourceLen = 16 << 10
	// maxWork bounds every intermediate string a function builds and the raw output of one render.
	maxWork = 64 << 10
)

// Data is the data model of every rule (see the package doc).
type Data struct {
	Serial     string
	AssetTag   string
	Barcode    string
	FirstName  string
	MiddleName string
	LastName   string
	FullName   string
	DistrictID string
	Username   string
	Email      string
	Grade      string
	Homeroom   string
	Teachers   []string
	School     string
	SchoolName string
	Building   string

	// Class fields (roster sync's class names, see ClassFields): a OneRoster class's title, classCode,
	// first period and location. SchoolCode is the same value as School (the name the examples
	// use); Location is the classes.csv location, not the MDM location.
	Title      string
	ClassCode  string
	Period     string
	SchoolCode string
	Location   string
}

// ClassFields are the fields a roster class name template may use (CompileFields): the class's
// title, classCode, first period, the policy school's Destiny site short name (.School, .SchoolCode),
// its display name, the class's first grade and its classes.csv location.
var ClassFields = []string{"Title", "ClassCode", "Period", "School", "SchoolCode", "SchoolName", "Grade", "Location"}

// PersonFields are the fields a roster group-name template (students and teachers groups) may use: the
// person's school (site short name, twice, and display name), grade, names, username and district id.
var PersonFields = []string{"School", "SchoolCode", "SchoolName", "Grade", "FirstName", "LastName", "Username", "DistrictID"}

// FullName is the .FullName of a borrower: "First Last", trimmed, with a single space only when both
// parts are present.
func FullName(first, last string) string {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	switch {
	case first == "":
		return last
	case last == "":
		return first
	}
	return first + " " + last
}

// Error is a template that cannot be compiled or rendered. Rule names the rule (the name given to
// Compile, for example naming.student); the message starts with it.
type Error struct {
	Rule string
	// Render is true for a render error (the device is skipped with TemplateError), false for a compile
	// error (the policy is not Ready).
	Render bool
	Err    error
}

func (e *Error) Error() string { return e.Rule + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Template is a compiled rule. It is safe for concurrent use.
type Template struct {
	name   string
	source string
	maxLen int
	tmpl   *template.Template
	// parts is the template as text and plain string fields, when it is only that (most rules are):
	// Render then concatenates instead of running text/template. nil otherwise.
	parts []part
}

// part is a piece of a plain template: literal text, or a string field of Data when field > 0.
type part struct {
	text  string
	field int
}

// stringFields number the string fields of Data for the plain fast path (see fieldValue).
var stringFields = map[string]int{
	"Serial": 1, "AssetTag": 2, "Barcode": 3, "FirstName": 4, "MiddleName": 5, "LastName": 6, "FullName": 7,
	"DistrictID": 8, "Username": 9, "Email": 10, "Grade": 11, "Homeroom": 12, "School": 13, "SchoolName": 14,
	"Building": 15, "Title": 16, "ClassCode": 17, "Period": 18, "SchoolCode": 19, "Location": 20,
}

func fieldValue(d *Data, field int) string {
	switch field {
	case 1:
		return d.Serial
	case 2:
		return d.AssetTag
	case 3:
		return d.Barcode
	case 4:
		return d.FirstName
	case 5:
		return d.MiddleName
	case 6:
		return d.LastName
	case 7:
		return d.FullName
	case 8:
		return d.DistrictID
	case 9:
		return d.Username
	case 10:
		return d.Email
	case 11:
		return d.Grade
	case 12:
		return d.Homeroom
	case 13:
		return d.School
	case 14:
		return d.SchoolName
	case 15:
		return d.Building
	case 16:
		return d.Title
	case 17:
		return d.ClassCode
	case 18:
		return d.Period
	case 19:
		return d.SchoolCode
	case 20:
		return d.Location
	}
	return ""
}

// plain returns the parts of a template made only of text and {{.StringField}} actions, or nil.
func plain(root *parse.ListNode) []part {
	var parts []part
	for _, n := range root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, part{text: string(n.Text)})
		case *parse.ActionNode:
			p := n.Pipe
			if p == nil || len(p.Decl) != 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 || stringFields[f.Ident[0]] == 0 {
				return nil
			}
			parts = append(parts, part{field: stringFields[f.Ident[0]]})
		case *parse.CommentNode:
		default:
			return nil
		}
	}
	return parts
}

// Name is the rule name given to Compile.
func (t *Template) Name() string { return t.name }

// Source is the template text.
func (t *Template) Source() string { return t.source }

// MaxLen is the longest value, in characters, Render accepts.
func (t *Template) MaxLen() int { return t.maxLen }

// String is the rule name and its text, for logs.
func (t *Template) String() string { return fmt.Sprintf("%s %q", t.name, t.source) }

// Compile parses a rule with the MaxLen limit. Errors are *Error naming the rule, for example
// `naming.student: template: naming.student:1: function "printf" not defined`.
func Compile(name, text string) (*Template, error) { return CompileLimit(name, text, MaxLen) }

// CompileLimit is Compile with another limit on the rendered value (for example MaxDepartmentLen).
func CompileLimit(name, text string, maxLen int) (*Template, error) {
	return compile(name, text, maxLen, deviceFields)
}

// CompileFields is Compile for a rule that may use only the given Data fields (for example
// ClassFields): any other field, even one of Data, is a compile error that lists the allowed ones.
// Unknown names in allowed are ignored.
func CompileFields(name, text string, allowed ...string) (*Template, error) {
	set := make(map[string]bool, len(allowed))
	for _, f := range allowed {
		if fields[f] {
			set[f] = true
		}
	}
	return compile(name, text, MaxLen, set)
}

func compile(name, text string, maxLen int, fieldSet map[string]bool) (*Template, error) {
	fail := func(err error) (*Template, error) { return nil, &Error{Rule: name, Err: err} }
	if maxLen <= 0 || maxLen > maxWork {
		return fail(fmt.Errorf("limit %d out of range 1..%d", maxLen, maxWork))
	}
	if len(text) > MaxSourceLen {
		return fail(fmt.Errorf("template is %d bytes, over the limit of %d", len(text), MaxSourceLen))
	}
	if strings.TrimSpace(text) == "" {
		return fail(errors.New("empty template (leave an optional rule unset instead)"))
	}
	if !utf8.ValidString(text) {
		return fail(errors.New("template is not valid UTF-8"))
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return fail(err)
	}
	if ts := tmpl.Templates(); len(ts) > 1 {
		return fail(errors.New("define and block are not allowed"))
	}
	if tmpl.Tree == nil {
		return fail(errors.New("empty template"))
	}
	if err := check(tmpl.Tree.Root, 0, fieldSet); err != nil {
		return fail(err)
	}
	t := &Template{name: name, source: text, maxLen: maxLen, tmpl: tmpl, parts: plain(tmpl.Tree.Root)}
	// A template must render a fully populated record: this catches type errors (upper .Teachers)
	// before any device is planned.
	if _, err := t.execute(&sample); err != nil {
		return fail(err)
	}
	return t, nil
}

// sample is the record Compile renders once.
var sample = Data{
	Serial: "DMPXK2ABCD12", AssetTag: "A-1001", Barcode: "T 10001", FirstName: "Ada", MiddleName: "May",
	LastName: "Lovelace", FullName: "Ada Lovelace", DistrictID: "100001", Username: "alovelace",
	Email: "alovelace@example.org", Grade: "09", Homeroom: "Room 101", Teachers: []string{"Alan Turing", "Grace Hopper", "Katherine Johnson"},
	School: "LHS", SchoolName: "Lincoln High School", Building: "Lincoln High",
	Title: "Algebra 1", ClassCode: "ALG1-3", Period: "3", SchoolCode: "LHS", Location: "B-20",
}

// Render executes the rule for one device. The result is trimmed; an execution error, a value over
// the limit or a control character in the value is an *Error with Render set.
func (t *Template) Render(d Data) (string, error) { return t.RenderPtr(&d) }

// RenderPtr is Render without copying the record (for planners rendering many rules per device).
func (t *Template) RenderPtr(d *Data) (string, error) {
	if t == nil {
		return "", &Error{Rule: "(nil)", Render: true, Err: errors.New("no template")}
	}
	s, err := t.execute(d)
	if err != nil {
		return "", &Error{Rule: t.name, Render: true, Err: err}
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > t.maxLen {
		return "", &Error{Rule: t.name, Render: true, Err: fmt.Errorf("rendered %d characters, over the limit of %d", n, t.maxLen)}
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return "", &Error{Rule: t.name, Render: true, Err: fmt.Errorf("rendered a control character (%U) at byte %d", []rune(s[i:])[0], i)}
	}
	return s, nil
}

func (t *Template) execute(d *Data) (string, error) {
	if t.parts != nil {
		if len(t.parts) == 1 {
			if p := t.parts[0]; p.field > 0 {
				return fieldValue(d, p.field), nil
			}
			return t.parts[0].text, nil
		}
		var b strings.Builder
		for _, p := range t.parts {
			if p.field > 0 {
				b.WriteString(fieldValue(d, p.field))
			} else {
				b.WriteString(p.text)
			}
		}
		return b.String(), nil
	}
	return t.executeTemplate(d)
}

func (t *Template) executeTemplate(d *Data) (string, error) {
	var w boundedWriter
	if err := t.tmpl.Execute(&w, *d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", errTooLong
		}
		return "", err
	}
	return w.b.String(), nil
}

var errTooLong = fmt.Errorf("output over %d bytes", maxWork)

// boundedWriter stops a render that writes more than maxWork bytes.
type boundedWriter struct{ b strings.Builder }

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxWork {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// allowed are the identifiers (functions) a template may call: ours and the harmless built-ins.
var allowed = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"len": true, "index": true, "slice": true,
}

// fields are the Data field names.
var fields = func() map[string]bool {
	m := map[string]bool{}
	rt := reflect.TypeFor[Data]()
	for i := range rt.NumField() {
		m[rt.Field(i).Name] = true
	}
	return m
}()

// deviceFields are the fields of the device rules (Compile, CompileLimit): every field but the class
// fields only roster sync's class names have.
var deviceFields = func() map[string]bool {
	m := map[string]bool{}
	for n := range fields {
		m[n] = true
	}
	for _, n := range []string{"Title", "ClassCode", "Period", "SchoolCode", "Location"} {
		delete(m, n)
	}
	return m
}()

func fieldList(set map[string]bool) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, "."+n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func init() {
	for name := range funcs {
		allowed[name] = true
	}
}

// check walks the parse tree and refuses what the package doc excludes. rangeDepth is the number of
// enclosing range actions.
func check(n parse.Node, rangeDepth int, fs map[string]bool) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := check(c, rangeDepth, fs); err != nil {
				return err
			}
		}
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
	case *parse.ActionNode:
		return checkPipe(n.Pipe, fs)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, rangeDepth, fs)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, rangeDepth, fs)
	case *parse.RangeNode:
		if rangeDepth > 0 {
			return errors.New("a range inside a range is not allowed")
		}
		if !rangesOverField(n.Pipe) {
			return fmt.Errorf("range must be over a field such as .Teachers, not %s", n.Pipe)
		}
		return checkBranch(&n.BranchNode, rangeDepth+1, fs)
	case *parse.TemplateNode:
		return fmt.Errorf("{{template %q}} is not allowed", n.Name)
	default:
		return fmt.Errorf("%s is not allowed", n)
	}
	return nil
}

func checkBranch(b *parse.BranchNode, rangeDepth int, fs map[string]bool) error {
	if err := checkPipe(b.Pipe, fs); err != nil {
		return err
	}
	if err := check(b.List, rangeDepth, fs); err != nil {
		return err
	}
	return check(b.ElseList, rangeDepth, fs)
}

func checkPipe(p *parse.PipeNode, fs map[string]bool) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			if err := checkArg(a, fs); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkArg(a parse.Node, fs map[string]bool) error {
	switch a := a.(type) {
	case *parse.IdentifierNode:
		if !allowed[a.Ident] {
			return fmt.Errorf("function %q is not allowed", a.Ident)
		}
	case *parse.FieldNode:
		return checkFields(a.Ident, fs)
	case *parse.VariableNode:
		if len(a.Ident) > 1 {
			if a.Ident[0] != "$" {
				return fmt.Errorf("%s: only $ has fields", a)
			}
			return checkFields(a.Ident[1:], fs)
		}
	case *parse.ChainNode:
		return fmt.Errorf("%s: field access on an expression is not allowed", a)
	case *parse.PipeNode:
		return checkPipe(a, fs)
	}
	return nil
}

func checkFields(idents []string, fs map[string]bool) error {
	if !fs[idents[0]] {
		return fmt.Errorf("unknown field .%s (the data model is %s)", idents[0], fieldList(fs))
	}
	if len(idents) > 1 {
		return fmt.Errorf(".%s has no fields", strings.Join(idents[:len(idents)-1], "."))
	}
	return nil
}

// rangesOverField is true when the pipeline is a single field of the data (.Teachers or $.Teachers).
func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$"
	}
	return false
}
