package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// The simulators run in a child process ("bench sim ..."), so the manager's peak RSS is its own: the
// simulators hold every district twice (Destiny's items and Jamf's devices) and render every answer.

// simSpec is what the parent asks the child to serve.
type simSpec struct {
	// Devices has one entry per district: its device count.
	Devices []int
	Schools int
	Latency time.Duration
	// ShareJamf serves the Jamf Pro of the first ShareJamf districts on one host (path /dNN each).
	ShareJamf int
	Drift     int
	// RosterDir receives each district's SIS patron CSV in dNN/patrons.csv.
	RosterDir string
	// Target is the MDM simulated: targetJamfPro or targetJamfSchool.
	Target string
}

const (
	targetJamfPro    = "jamfpro"
	targetJamfSchool = "jamfschool"
)

// simDistrict is one district as the child serves it.
type simDistrict struct {
	DestinyURL, JamfURL   string
	DestinyHost, JamfHost string
	DestinyID, DestinySecret,
	JamfID, JamfSecret string
	Schools []simSchool
	// Roster is the directory of the district's SIS patron CSV.
	Roster string
}

// simSchool is a school as the policy maps it: to a Jamf Pro building or a Jamf School location.
type simSchool struct{ Site, Building, Location string }

// simHello is the child's first line on stdout.
type simHello struct {
	Control   string // plain-HTTP address of /stats and /reset
	CA        string // PEM of the certificate every simulator serves
	Districts []simDistrict
}

// simStats is what /stats answers.
type simStats struct {
	Districts []districtStats
	// HostPeak is the most requests any one listener (host:port) handled at once.
	HostPeak map[string]int
}

type districtStats struct {
	Destiny, JamfTotal, JamfWrites int
	DestinyPeak, JamfPeak          int
	DestinyCalls, JamfCalls        map[string]int
}

func (s simSpec) args() []string {
	dev := make([]string, len(s.Devices))
	for i, n := range s.Devices {
		dev[i] = fmt.Sprint(n)
	}
	return []string{"sim", "--devices", strings.Join(dev, ","), "--schools", fmt.Sprint(s.Schools),
		"--latency", s.Latency.String(), "--share-jamf", fmt.Sprint(s.ShareJamf), "--drift", fmt.Sprint(s.Drift), "--roster-dir", s.RosterDir,
		"--target", s.Target}
}

// simMain serves the simulators until stdin closes (the parent exited).
func simMain(args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	devices := fs.String("devices", "1000", "comma-separated device count of each district")
	var spec simSpec
	fs.IntVar(&spec.Schools, "schools", 20, "schools per district")
	fs.DurationVar(&spec.Latency, "latency", 20*time.Millisecond, "latency of every call")
	fs.IntVar(&spec.ShareJamf, "share-jamf", 0, "districts whose Jamf Pro share one host")
	fs.IntVar(&spec.Drift, "drift", 2, "percent of devices needing a change")
	fs.StringVar(&spec.RosterDir, "roster-dir", "", "directory that receives each district's SIS patron CSV")
	fs.StringVar(&spec.Target, "target", targetJamfPro, "the MDM simulated: jamfpro or jamfschool")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(*devices, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
			return fmt.Errorf("--devices %q: want positive counts separated by commas", *devices)
		}
		spec.Devices = append(spec.Devices, n)
	}
	tlsCfg, caPEM, err := newCA()
	if err != nil {
		return err
	}
	hosts := &hostPeaks{peak: map[string]int{}}
	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		host := ln.Addr().String()
		srv := &http.Server{Handler: hosts.count(host, h), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		return host, nil
	}
	knobs := simhttp.Knobs{Latency: spec.Latency}
	var (
		hello   = simHello{CA: string(caPEM)}
		dsims   []*destinysim.Server
		jsims   []jamfSim
		shared  = http.NewServeMux()
		shareAt string
	)
	if spec.ShareJamf > 0 {
		if shareAt, err = serve(shared); err != nil {
			return err
		}
	}
	for i, n := range spec.Devices {
		d := district.Generate(district.Options{Seed: int64(1000 + i), Schools: spec.Schools, Devices: n, Weights: driftWeights(spec.Drift)})
		sd := simDistrict{DestinyID: "bench", DestinySecret: randomHex(), JamfID: "bench", JamfSecret: randomHex()}
		ds := destinysim.New(d, destinysim.Options{ClientID: sd.DestinyID, ClientSecret: sd.DestinySecret, Seed: uint64(i)})
		js, base := newJamfSim(spec.Target, d, sd, i)
		ds.Sim().SetKnobs(knobs)
		js.counters().SetKnobs(knobs)
		if sd.DestinyHost, err = serve(ds); err != nil {
			return err
		}
		sd.DestinyURL = "https://" + sd.DestinyHost
		if i < spec.ShareJamf && spec.Target == targetJamfPro {
			prefix := fmt.Sprintf("/d%02d", i)
			shared.Handle(prefix+"/", http.StripPrefix(prefix, js))
			sd.JamfHost, sd.JamfURL = shareAt, "https://"+shareAt+prefix
		} else {
			if sd.JamfHost, err = serve(js); err != nil {
				return err
			}
			sd.JamfURL = "https://" + sd.JamfHost + base
		}
		sd.Roster = filepath.Join(spec.RosterDir, fmt.Sprintf("d%02d", i))
		if err := os.MkdirAll(sd.Roster, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sd.Roster, "patrons.csv"), d.SISPatronCSV(), 0o644); err != nil {
			return err
		}
		for _, s := range d.Schools {
			sd.Schools = append(sd.Schools, simSchool{Site: s.ShortName, Building: s.Building, Location: s.Name})
		}
		hello.Districts = append(hello.Districts, sd)
		dsims, jsims = append(dsims, ds), append(jsims, js)
	}

	control := http.NewServeMux()
	control.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		st := simStats{HostPeak: hosts.peaks()}
		for i := range dsims {
			d, j := dsims[i].Sim(), jsims[i].counters()
			st.Districts = append(st.Districts, districtStats{
				Destiny: d.TotalCalls(), JamfTotal: j.TotalCalls(), JamfWrites: jsims[i].writeCalls(),
				DestinyPeak: d.PeakInFlight(), JamfPeak: j.PeakInFlight(), DestinyCalls: d.Calls(), JamfCalls: j.Calls(),
			})
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	control.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		for i := range dsims {
			dsims[i].Sim().ResetCounters()
			jsims[i].counters().ResetCounters()
		}
		hosts.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, control) }()
	hello.Control = "http://" + ln.Addr().String()
	if err := json.NewEncoder(os.Stdout).Encode(hello); err != nil {
		return err
	}
	// Serve until the parent closes our stdin (it exited or is done).
	_, _ = bufio.NewReader(os.Stdin).ReadString(0)
	return nil
}

// jamfSim is the MDM simulator of one district, Jamf Pro or Jamf School.
type jamfSim interface {
	http.Handler
	// counters are its calls, peak in flight and latency (reset together).
	counters() *simhttp.Server
	// writeCalls is the calls that changed something since the counters were reset.
	writeCalls() int
}

type proSim struct{ *jamfprosim.Server }

func (p proSim) counters() *simhttp.Server { return p.HTTP() }
func (p proSim) writeCalls() int           { return p.WriteCalls() }

type schoolSim struct{ *jamfschoolsim.Server }

func (s schoolSim) counters() *simhttp.Server { return s.Server.Server }

// writeCalls counts PUT, POST and DELETE: Jamf School has no token call, every such call is a write.
func (s schoolSim) writeCalls() int {
	n := 0
	for pattern, c := range s.Calls() {
		if m, _, _ := strings.Cut(pattern, " "); m == http.MethodPut || m == http.MethodPost || m == http.MethodDelete {
			n += c
		}
	}
	return n
}

// newJamfSim makes district d's MDM simulator for target, with sd's credentials, and the path its API
// is served under.
func newJamfSim(target string, d *district.District, sd simDistrict, i int) (jamfSim, string) {
	if target == targetJamfSchool {
		return schoolSim{jamfschoolsim.New(d, jamfschoolsim.Options{NetworkID: sd.JamfID, APIKey: sd.JamfSecret, Seed: uint64(i)})}, jamfschoolsim.BasePath
	}
	return proSim{jamfprosim.New(d, jamfprosim.Options{ClientID: sd.JamfID, ClientSecret: sd.JamfSecret, Seed: uint64(i)})}, ""
}

// driftWeights generates pct % of devices in need of a change, spread over the kinds of drift a
// district sees between two hourly runs (as the engine's BenchmarkRun does), the rest in sync.
func driftWeights(pct int) map[string]int {
	if pct <= 0 {
		return map[string]int{district.CaseNormal: 1}
	}
	w := map[string]int{
		district.CaseStaleName: 4, district.CaseWrongUser: 3, district.CaseNoUser: 3, district.CaseWrongBuilding: 2,
		district.CaseReturned: 3, district.CaseLost: 2, district.CaseFound: 1, district.CaseTeacherCheckout: 1,
		district.CaseInactiveStudent: 1,
	} // 20 parts
	maps.Copy(w, map[string]int{district.CaseNormal: 20 * (100 - pct) / pct})
	return w
}

// hostPeaks counts the requests each listener handles at once: the honest "what did the host see".
type hostPeaks struct {
	mu             sync.Mutex
	inFlight, peak map[string]int
}

func (h *hostPeaks) count(host string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		if h.inFlight == nil {
			h.inFlight = map[string]int{}
		}
		h.inFlight[host]++
		h.peak[host] = max(h.peak[host], h.inFlight[host])
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.inFlight[host]--
			h.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *hostPeaks) peaks() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.peak)
}

func (h *hostPeaks) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.peak {
		h.peak[k] = h.inFlight[k]
	}
}

// newCA makes a self-signed certificate for 127.0.0.1 that is its own CA, valid for a day: the
// policies trust it through spec.*.caBundle, as a district behind a private CA does.
func newCA() (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "devicesync bench simulators"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return cfg, pemCert(der), nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
