package controllers

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/httpx"
)

func TestConnectorRefusesWhatTheManagerDoesNotAllow(t *testing.T) {
	ok := func(*testing.T, error) {}
	reason := func(want string, words ...string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Reason != want {
				t.Fatalf("err = %v, want a ConfigError with reason %s", err, want)
			}
			for _, w := range words {
				if !strings.Contains(ce.Message, w) {
					t.Errorf("message %q does not say %q", ce.Message, w)
				}
			}
		}
	}
	cases := []struct {
		name     string
		guard    httpx.Guard
		url      string
		insecure bool
		check    func(*testing.T, error)
	}{
		{"any https host when --allowed-hosts is empty", httpx.Guard{}, "https://destiny.lincoln.k12.us", false, ok},
		{"a host outside --allowed-hosts is refused, naming the field",
			httpx.Guard{AllowedHosts: []string{"*.jamfcloud.com"}}, "https://169.254.169.254", false,
			reason(ReasonHostNotAllowed, "spec.source.destiny.url", "--allowed-hosts")},
		{"a host inside --allowed-hosts is allowed", httpx.Guard{AllowedHosts: []string{"*.jamfcloud.com"}},
			"https://lincoln.jamfcloud.com", false, ok},
		{"plain http without insecure is refused (the API also refuses it)", httpx.Guard{}, "http://destiny.lincoln.k12.us", false,
			reason(ReasonHostNotAllowed, "use https://")},
		{"plain http with insecure is allowed for a lab", httpx.Guard{}, "http://destiny.lab", true, ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Connector{Guard: tc.guard}
			_, err := c.httpClient(context.Background(), "district", "source.destiny", tc.url, tc.insecure, nil, 5)
			tc.check(t, err)
		})
	}
}

func TestConnectorReadsOnlyLabelledSecretsWhenTheManagerRequiresIt(t *testing.T) {
	secret := func(name string, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "district", Labels: labels},
			Data: map[string][]byte{"client-id": []byte("sync"), "client-secret": []byte("s3cret")}}
	}
	reader := fake.NewClientBuilder().WithObjects(
		secret("labelled", map[string]string{dsv1.CredentialsLabel: "true"}),
		secret("unrelated", nil),
	).Build()
	cases := []struct {
		name, secret string
		require      bool
		wantReason   string
	}{
		{"without the requirement any Secret with the keys is read", "unrelated", false, ""},
		{"with the requirement a labelled Secret is read", "labelled", true, ""},
		{"with the requirement an unlabelled Secret is refused", "unrelated", true, ReasonSecretNotLabelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Connector{Reader: reader, RequireCredentialsLabel: tc.require}
			_, err := c.secret(context.Background(), "district", "source.destiny.credentialsSecretRef", tc.secret, keyClientID, keyClientSecret)
			var ce *ConfigError
			switch {
			case tc.wantReason == "" && err != nil:
				t.Fatalf("err = %v, want the Secret read", err)
			case tc.wantReason != "" && (!errors.As(err, &ce) || ce.Reason != tc.wantReason || !strings.Contains(ce.Message, dsv1.CredentialsLabel+"=true")):
				t.Fatalf("err = %v, want reason %s naming the label", err, tc.wantReason)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestConnectorTrustsAPrivateCAFromThePolicysBundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	reader := fake.NewClientBuilder().WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "district-ca", Namespace: "district"}, Data: map[string]string{"ca.crt": caPEM}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-a-ca", Namespace: "district"}, Data: map[string]string{"ca.crt": "hello"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca-secret", Namespace: "district"}, Data: map[string][]byte{"bundle.pem": []byte(caPEM)}},
	).Build()
	c := &Connector{Reader: reader}
	cases := []struct {
		name       string
		ca         *dsv1.CABundleSource
		wantReason string // "" means the server is trusted
		wantTLSErr bool
	}{
		{"without a bundle a private CA is not trusted: TLS is verified", nil, "", true},
		{"a bundle from a ConfigMap (key ca.crt by default)", &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "district-ca"}}, "", false},
		{"a bundle from a Secret under another key", &dsv1.CABundleSource{SecretRef: &dsv1.KeyReference{Name: "ca-secret", Key: "bundle.pem"}}, "", false},
		{"a missing ConfigMap is named", &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "nope"}}, ReasonInvalidCABundle, false},
		{"a bundle with no certificate is refused", &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "not-a-ca"}}, ReasonInvalidCABundle, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc, err := c.httpClient(context.Background(), "district", "target.jamfPro", srv.URL, false, tc.ca, 5)
			if tc.wantReason != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Reason != tc.wantReason || !strings.Contains(ce.Message, "spec.target.jamfPro.caBundle") {
					t.Fatalf("err = %v, want reason %s naming spec.target.jamfPro.caBundle", err, tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Get(srv.URL)
			if tc.wantTLSErr {
				if err == nil {
					_ = resp.Body.Close()
					t.Fatal("a server signed by an unknown CA was trusted")
				}
				return
			}
			if err != nil {
				t.Fatalf("the server signed by the bundle's CA is not trusted: %v", err)
			}
			_ = resp.Body.Close()
		})
	}
}
