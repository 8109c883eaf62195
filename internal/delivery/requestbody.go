package delivery

import (
	"unicode/utf8"

	"github.com/herald-dev/herald"
)

// keepRequestBody sets the attempt's record of a body that is not the
// envelope (a body template's output, at most bodytemplate.MaxOutput): its
// first RequestBodyMax bytes, cut on a character boundary, and whether it
// was cut.
func keepRequestBody(att *herald.Attempt, body []byte) {
	if len(body) <= RequestBodyMax {
		att.RequestBody = string(body)
		return
	}
	n := RequestBodyMax
	for n > 0 && !utf8.RuneStart(body[n]) {
		n--
	}
	att.RequestBody, att.RequestBodyTruncated = string(body[:n]), true
}
