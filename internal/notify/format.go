package notify

import (
	"encoding/json"
	"fmt"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// Body renders r in the webhook's format (empty: Generic).
func Body(format dsv1.WebhookFormat, r Result) ([]byte, error) {
	switch format {
	case dsv1.WebhookSlack:
		return json.Marshal(slack(r))
	case dsv1.WebhookTeams:
		return json.Marshal(teams(r))
	case dsv1.WebhookGeneric, "":
		return json.Marshal(r)
	}
	return nil, fmt.Errorf("notification format %q is not Slack, Teams or Generic", format)
}

// slack is a Slack incoming-webhook message: text is the fallback shown in notifications, blocks are
// mrkdwn sections (Slack's Block Kit).
func slack(r Result) map[string]any {
	section := func(text string) map[string]any {
		return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}}
	}
	blocks := []any{section("*" + slackEscape(r.Title()) + "*")}
	if r.Message != "" {
		blocks = append(blocks, section("*"+slackEscape(r.Reason)+"*: "+slackEscape(r.Message)))
	}
	blocks = append(blocks, section("*Counts*: "+slackEscape(r.CountsText())))
	if f := r.FixText(); f != "" {
		blocks = append(blocks, section(slackEscape(f)))
	}
	if r.ApproveCommand != "" {
		blocks = append(blocks, section("*Approve the plan* after review:\n```"+slackEscape(r.ApproveCommand)+"```"))
	}
	blocks = append(blocks, section("*Details*: `"+slackEscape(r.DescribeCommand)+"`"))
	return map[string]any{"text": slackEscape(r.Title() + ". " + r.ToDo()), "blocks": blocks}
}

// slackEscape escapes the three characters Slack's mrkdwn treats as control characters.
func slackEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		switch c {
		case '&':
			out = append(out, []rune("&amp;")...)
		case '<':
			out = append(out, []rune("&lt;")...)
		case '>':
			out = append(out, []rune("&gt;")...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// teams is the message a Microsoft Teams Workflows webhook ("When a Teams webhook request is received",
// then "Post card in a chat or channel") accepts: one Adaptive Card attachment.
func teams(r Result) map[string]any {
	text := func(s string, extra map[string]any) map[string]any {
		b := map[string]any{"type": "TextBlock", "text": s, "wrap": true}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	color := "Attention"
	if r.Phase == string(dsv1.PhaseBlocked) || r.Phase == string(dsv1.PhasePartiallyFailed) {
		color = "Warning"
	} else if r.Phase == string(dsv1.PhaseSucceeded) {
		color = "Good"
	}
	facts := []any{
		map[string]any{"title": "Run", "value": r.Run},
		map[string]any{"title": "Phase", "value": r.Phase},
	}
	if r.Reason != "" {
		facts = append(facts, map[string]any{"title": "Reason", "value": r.Reason})
	}
	facts = append(facts, map[string]any{"title": "Counts", "value": r.CountsText()})
	body := []any{
		text(r.Title(), map[string]any{"size": "Medium", "weight": "Bolder", "color": color}),
		map[string]any{"type": "FactSet", "facts": facts},
	}
	if r.Message != "" {
		body = append(body, text(r.Message, nil))
	}
	if f := r.FixText(); f != "" {
		body = append(body, text(f, nil))
	}
	if r.ApproveCommand != "" {
		body = append(body, text("Approve the plan after review:", map[string]any{"weight": "Bolder"}),
			text(r.ApproveCommand, map[string]any{"fontType": "Monospace"}))
	}
	body = append(body, text("Details: "+r.DescribeCommand, map[string]any{"fontType": "Monospace", "isSubtle": true}))
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
				"msteams": map[string]any{"width": "Full"},
			},
		}},
	}
}
