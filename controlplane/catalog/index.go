package catalog

import (
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The full-text index: an inverted index from tokens to the documents (algorithms) holding
// them, with a score per token and document that weighs where the token occurs. It lives in
// memory; the service rebuilds it from the store at start and keeps it current from the
// store's change feed.
//
// Ranking is a property of the document and the query alone (no corpus statistics such as
// IDF), so a document keeps its score while others come and go, and paging by a (score, owner,
// name) marker stays complete and free of duplicates while the catalog changes.

// Field weights: a match in the name ranks above one in the summary or tags, which ranks above
// one in the description, which ranks above one in the README. A field's contribution grows
// with the token's frequency but saturates at twice the weight, so no README, however long,
// outranks a name or summary match.
const (
	weightName        = 10
	weightSummary     = 6
	weightTags        = 5
	weightOwner       = 3
	weightDescription = 3
	weightREADME      = 1

	// prefixFactor scales a match of a query word as the prefix of a longer token.
	prefixFactor = 0.6
	// minPrefix is the shortest query word that also matches as a prefix.
	minPrefix = 3
	// nameBonus is added when the query, without separators, is the algorithm's name.
	nameBonus = 20
	// maxToken: longer tokens (encoded blobs in a README) are not indexed.
	maxToken = 64
	// maxQueryWords bounds the words of a query that count.
	maxQueryWords = 16
)

// stopwords are dropped from documents and queries: they would otherwise have to match
// (every query word must), and match nearly every README.
var stopwords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true, "be": true, "by": true,
	"for": true, "from": true, "in": true, "into": true, "is": true, "it": true, "its": true, "of": true,
	"on": true, "or": true, "that": true, "the": true, "this": true, "to": true, "with": true,
}

// words splits text into lowercase words of letters and digits.
func words(text string, emit func(w string)) {
	start := -1
	for i, r := range text {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			emit(text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		emit(text[start:])
	}
}

// tokens calls emit with the index tokens of text: each word lowercased, and the parts of a
// word that changes case or between letters and digits ("ImageNet50" also gives "image",
// "net", "50"; "XMLHttp" "xml", "http"), so that a query word finds them either way.
func tokens(text string, emit func(tok string)) {
	words(text, func(w string) {
		lw := strings.ToLower(w)
		if len(lw) > maxToken || stopwords[lw] {
			return
		}
		emit(lw)
		rs := []rune(w)
		part := func(p []rune) {
			if s := strings.ToLower(string(p)); !stopwords[s] {
				emit(s)
			}
		}
		start := 0
		for i := 1; i < len(rs); i++ {
			prev, r := rs[i-1], rs[i]
			if unicode.IsLower(prev) && unicode.IsUpper(r) ||
				unicode.IsUpper(prev) && unicode.IsUpper(r) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) ||
				unicode.IsLetter(prev) != unicode.IsLetter(r) {
				part(rs[start:i])
				start = i
			}
		}
		if start > 0 {
			part(rs[start:])
		}
	})
}

// queryWords returns the words of a query, lowercased, deduplicated, without stopwords, at
// most maxQueryWords. stopwordsOnly reports a query that had words but only stopwords.
func queryWords(q string) (ws []string, stopwordsOnly bool) {
	had := false
	words(q, func(w string) {
		had = true
		lw := strings.ToLower(w)
		if stopwords[lw] || len(lw) > maxToken || slices.Contains(ws, lw) || len(ws) == maxQueryWords {
			return
		}
		ws = append(ws, lw)
	})
	return ws, had && len(ws) == 0
}

// squash is s lowercased with everything but letters and digits removed: "Image-Classifier"
// and "image classifier" both give "imageclassifier".
func squash(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// docText is the text of a document the index reads.
type docText struct {
	owner, name, summary, description, readme string
	tags                                      []string
}

func (a docText) equal(b docText) bool {
	return a.owner == b.owner && a.name == b.name && a.summary == b.summary && a.description == b.description &&
		a.readme == b.readme && slices.Equal(a.tags, b.tags)
}

// termScores returns the score of each token of a document.
func termScores(t docText) map[string]float32 {
	type acc struct{ best, sum float32 }
	all := map[string]*acc{}
	field := func(weight float32, text ...string) {
		tf := map[string]int{}
		for _, s := range text {
			tokens(s, func(tok string) { tf[tok]++ })
		}
		for tok, n := range tf {
			s := weight * (1 + 0.25*float32(min(n-1, 4)))
			a := all[tok]
			if a == nil {
				a = &acc{}
				all[tok] = a
			}
			a.best = max(a.best, s)
			a.sum += s
		}
	}
	field(weightName, t.name)
	// The name without its separators ("image-classifier" → "imageclassifier").
	if sq := squash(t.name); sq != "" && sq != strings.ToLower(t.name) && len(sq) <= maxToken {
		if a := all[sq]; a != nil {
			a.best, a.sum = max(a.best, weightName), a.sum+weightName
		} else {
			all[sq] = &acc{weightName, weightName}
		}
	}
	field(weightSummary, t.summary)
	field(weightTags, t.tags...)
	field(weightOwner, t.owner)
	field(weightDescription, t.description)
	field(weightREADME, t.readme)
	out := make(map[string]float32, len(all))
	for tok, a := range all {
		// The best field decides; the others add a little.
		out[tok] = a.best + 0.05*(a.sum-a.best)
	}
	return out
}

type posting struct {
	slot  int32
	score float32
}

// index is the inverted index over slots of documents. A slot is never reused: a document
// removed leaves its slot empty (its postings are skipped) until the next rebuild. It is not
// safe for concurrent use: the service guards it.
type index struct {
	docs  []*doc // by slot; nil: removed
	slots map[string]int32
	post  map[string][]posting
	vocab []string // the keys of post, sorted, for prefix matches
	dead  int      // empty slots
}

func newIndex() *index {
	return &index{slots: map[string]int32{}, post: map[string][]posting{}}
}

// buildIndex indexes docs at once.
func buildIndex(docs []*doc) *index {
	x := newIndex()
	x.docs = make([]*doc, 0, len(docs))
	for _, d := range docs {
		slot := int32(len(x.docs))
		x.docs = append(x.docs, d)
		x.slots[d.key] = slot
		for tok, s := range termScores(d.text) {
			x.post[tok] = append(x.post[tok], posting{slot, s})
		}
	}
	x.vocab = make([]string, 0, len(x.post))
	for tok := range x.post {
		x.vocab = append(x.vocab, tok)
	}
	slices.Sort(x.vocab)
	return x
}

// get returns the live document of owner/name.
func (x *index) get(key string) *doc {
	if slot, ok := x.slots[key]; ok {
		return x.docs[slot]
	}
	return nil
}

// put adds or replaces a document. A document whose text is unchanged keeps its slot and
// postings (a new version, new settings); otherwise it takes a new slot.
func (x *index) put(d *doc) {
	if slot, ok := x.slots[d.key]; ok {
		if x.docs[slot].text.equal(d.text) {
			x.docs[slot] = d
			return
		}
		x.remove(d.key)
	}
	slot := int32(len(x.docs))
	x.docs = append(x.docs, d)
	x.slots[d.key] = slot
	var fresh []string
	for tok, s := range termScores(d.text) {
		if _, ok := x.post[tok]; !ok {
			fresh = append(fresh, tok)
		}
		x.post[tok] = append(x.post[tok], posting{slot, s})
	}
	if len(fresh) > 0 {
		slices.Sort(fresh)
		x.vocab = mergeSorted(x.vocab, fresh)
	}
}

// remove empties the slot of owner/name, if any.
func (x *index) remove(key string) {
	if slot, ok := x.slots[key]; ok {
		x.docs[slot] = nil
		delete(x.slots, key)
		x.dead++
	}
}

// live lists the live documents.
func (x *index) live() []*doc {
	out := make([]*doc, 0, len(x.slots))
	for _, d := range x.docs {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// needsRebuild reports an index whose empty slots outnumber its live ones.
func (x *index) needsRebuild() bool { return x.dead > 256 && x.dead > len(x.slots) }

func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// scratch is the per-search working memory, pooled.
type scratch struct {
	cand   []int32   // by slot: 1 + the slot's index in slots, 0 when not a candidate
	slots  []int32   // the candidates
	scores []float64 // by candidate and query word: the word's best score in the candidate
	dead   []bool    // by candidate: missed a word
	hits   []hit     // the search's results, before ordering
}

// expansion is one token a query word matches, with the factor its scores count with.
type expansion struct {
	list   []posting
	factor float64
}

// term is a query word with the tokens it matches.
type term struct {
	pos  int // in the query
	exps []expansion
	size int // postings in all
}

// match scores every live document that matches every query word, calling hit for each. A
// word matches a token equal to it, or, from minPrefix characters on, one it is a prefix of
// (counting prefixFactor of that token's score); its score in a document is its best match.
// The rarest word picks the candidates; the tokens of the others are then looked up per
// candidate (postings are ordered by slot) where that is cheaper than scanning them. The
// scratch comes back clean.
func (x *index) match(ws []string, sc *scratch, hit func(d *doc, score float64)) {
	n := len(ws)
	if n == 0 {
		return
	}
	terms := make([]term, 0, n)
	for i, w := range ws {
		t := term{pos: i}
		add := func(tok string, factor float64) {
			if l := x.post[tok]; len(l) > 0 {
				t.exps = append(t.exps, expansion{l, factor})
				t.size += len(l)
			}
		}
		add(w, 1)
		if utf8.RuneCountInString(w) >= minPrefix {
			j, _ := slices.BinarySearch(x.vocab, w)
			for ; j < len(x.vocab) && strings.HasPrefix(x.vocab[j], w); j++ {
				if x.vocab[j] != w {
					add(x.vocab[j], prefixFactor)
				}
			}
		}
		if t.size == 0 {
			return // a word nothing holds: no document matches them all
		}
		terms = append(terms, t)
	}
	slices.SortStableFunc(terms, func(a, b term) int { return a.size - b.size })

	if cap(sc.cand) < len(x.docs) {
		sc.cand = make([]int32, len(x.docs))
	}
	sc.cand = sc.cand[:len(x.docs)]
	sc.slots, sc.scores, sc.dead = sc.slots[:0], sc.scores[:0], sc.dead[:0]
	for _, e := range terms[0].exps {
		for _, p := range e.list {
			if x.docs[p.slot] == nil {
				continue // removed
			}
			ci := sc.cand[p.slot]
			if ci == 0 {
				sc.slots = append(sc.slots, p.slot)
				for range n {
					sc.scores = append(sc.scores, 0)
				}
				sc.dead = append(sc.dead, false)
				ci = int32(len(sc.slots))
				sc.cand[p.slot] = ci
			}
			at := int(ci-1)*n + terms[0].pos
			sc.scores[at] = max(sc.scores[at], float64(p.score)*e.factor)
		}
	}
	for _, t := range terms[1:] {
		for _, e := range t.exps {
			// Look each candidate up in a long list; scan a short one.
			if len(sc.slots)*bits.Len(uint(len(e.list))) < len(e.list) {
				for ci, slot := range sc.slots {
					if sc.dead[ci] {
						continue
					}
					if j, ok := slices.BinarySearchFunc(e.list, slot, func(p posting, s int32) int { return int(p.slot - s) }); ok {
						at := ci*n + t.pos
						sc.scores[at] = max(sc.scores[at], float64(e.list[j].score)*e.factor)
					}
				}
				continue
			}
			for _, p := range e.list {
				if ci := sc.cand[p.slot]; ci != 0 {
					at := int(ci-1)*n + t.pos
					sc.scores[at] = max(sc.scores[at], float64(p.score)*e.factor)
				}
			}
		}
		for ci := range sc.slots {
			sc.dead[ci] = sc.dead[ci] || sc.scores[ci*n+t.pos] == 0
		}
	}
	q := squash(strings.Join(ws, ""))
	for ci, slot := range sc.slots {
		sc.cand[slot] = 0
		if sc.dead[ci] {
			continue
		}
		score := 0.0
		for _, s := range sc.scores[ci*n : ci*n+n] { // in query order: the same sum every time
			score += s
		}
		d := x.docs[slot]
		if d.squashed == q {
			score += nameBonus
		}
		hit(d, score)
	}
}
