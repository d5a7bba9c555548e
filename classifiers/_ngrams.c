/* The inner loop of scoring, compiled: one text's l2-normalised TF-IDF vector times a
 * weight matrix, for the two analyzers the model uses (scikit-learn's "word" with the
 * token pattern \b\w+\b, and "char_wb"). Same numbers as
 * `TfidfVectorizer.transform([text]) @ weights`; `classifiers.model.FastTfidf` is the
 * Python version of the same thing and the tests hold the two to scikit-learn.
 *
 * Why C: a 5 KB mail is ~800 words and ~16,000 character n-grams. In Python each one is
 * a dictionary lookup behind an interpreter step; here it is a hash and a compare, and
 * the GIL is released while it runs, so the gateway's scoring threads use both cores.
 *
 * Memory layout: the tables are megabytes and a mail's n-grams land all over them, so
 * the cost is cache misses, not arithmetic. A vocabulary slot holds the term's 64-bit
 * seeded hash and its id, and a term is known by its hash: one miss to accept or reject
 * an n-gram, where comparing code points cost a second miss on every hit. Two terms of
 * the vocabulary with one hash are refused at load; a text's n-gram that is not in the
 * vocabulary matches a term with probability 2^-64 a comparison, and the seed is secret.
 * A feature's idf sits beside its weights (one miss per feature used).
 *
 * Hostile input: every table is open-addressed with a per-process random seed, the
 * per-text word table gives up deduplicating after a bounded probe (the word is then
 * counted directly: same result, no quadratic blow-up), and n-grams longer than the
 * longest vocabulary term are never built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t SEED = 0x9e3779b97f4a7c15ULL;

/* The tables are megabytes and each probe or weight row is a cache miss: asking for the
 * memory a few steps ahead lets the misses overlap (same work, same order, same sums). */
#define PREFETCH_AHEAD 8        /* tokens and weight rows asked for ahead of their use */
#define PREFETCH_GRAMS 64       /* a new word's n-gram slots asked for before probing */

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t hash_cp(const Py_UCS4 *s, Py_ssize_t n) {
    uint64_t h = SEED ^ (uint64_t)n;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix64(h);
}

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* -- the vocabulary: term -> feature id ------------------------------------------- */

typedef struct {
    uint64_t hash;          /* the term's hash_cp */
    uint32_t id;            /* feature id + 1; 0 is empty */
} Slot;

/* char_wb: a word's n-gram ids, kept from one text to the next (mail repeats its words,
 * and a word's ids cost one lookup here instead of ~4 per letter in the vocabulary) */
typedef struct {
    uint64_t hash;          /* 0: empty */
    uint32_t key_off, key_len, ids_off, n_ids;
} Word;

#define CACHE_SLOTS (1u << 15)          /* at most half used: 16,384 words */
#define CACHE_KEY_CPS (1u << 18)        /* code points of the words held */
#define CACHE_IDS (1u << 19)            /* n-gram ids held */
#define CACHE_LONGEST_WORD 40           /* longer words are not kept */

typedef struct {
    Word *words;
    Py_UCS4 *keys;
    uint32_t *ids;
    uint32_t used, key_used, ids_used;
} WordCache;

typedef struct {
    PyObject_HEAD
    int char_wb;
    int min_n, max_n, sublinear;
    Py_ssize_t n_features, k, max_term;
    Slot *slots;
    size_t mask;
    float *rows;            /* per feature: idf, then its k weights */
    WordCache cache;        /* char_wb only; threads take `cache_lock` to use it */
    PyThread_type_lock cache_lock;
} Table;

/* n-grams are a handful of code points: a loop beats a call to memcmp */
static inline int same_cps(const Py_UCS4 *a, const Py_UCS4 *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static Py_ssize_t lookup(const Table *t, const Py_UCS4 *s, Py_ssize_t n) {
    if (n > t->max_term) return -1;
    uint64_t h = hash_cp(s, n);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        const Slot *slot = t->slots + i;
        if (!slot->id) return -1;
        if (slot->hash == h) return slot->id - 1;
    }
}

/* -- per text: feature id -> count ---------------------------------------------------- */

typedef struct { uint32_t *key; double *count; size_t mask, used; } Counts;

static int counts_init(Counts *c, size_t hint) {
    size_t cap = pow2_at_least(hint * 2);
    c->key = calloc(cap, sizeof(uint32_t));
    c->count = malloc(cap * sizeof(double));
    c->mask = cap - 1;
    c->used = 0;
    return c->key && c->count ? 0 : -1;
}

static int counts_add(Counts *c, uint32_t id, double by) {
    if ((c->used + 1) * 2 > c->mask + 1) {         /* grow at half full */
        Counts bigger;
        if (counts_init(&bigger, (c->mask + 1)) < 0) {
            free(bigger.key); free(bigger.count);
            return -1;
        }
        for (size_t i = 0; i <= c->mask; i++)
            if (c->key[i]) counts_add(&bigger, c->key[i] - 1, c->count[i]);
        free(c->key); free(c->count);
        *c = bigger;
    }
    for (size_t i = (size_t)mix64(id) & c->mask;; i = (i + 1) & c->mask) {
        if (c->key[i] == id + 1) { c->count[i] += by; return 0; }
        if (!c->key[i]) { c->key[i] = id + 1; c->count[i] = by; c->used++; return 0; }
    }
}

/* -- analyzers -------------------------------------------------------------------------- */

/* \w and \s as Python's re sees them; mail is mostly ASCII, which a table answers */
static unsigned char ASCII_CLASS[128];      /* 1: \w, 2: whitespace */

static void ascii_classes(void) {
    for (Py_UCS4 ch = 0; ch < 128; ch++)
        ASCII_CLASS[ch] = (unsigned char)((Py_UNICODE_ISALNUM(ch) || ch == '_')
                                          | (Py_UNICODE_ISSPACE(ch) ? 2 : 0));
}

static inline int is_word_char(Py_UCS4 ch) {
    return ch < 128 ? ASCII_CLASS[ch] & 1 : Py_UNICODE_ISALNUM(ch) || ch == '_';
}

static inline int is_space(Py_UCS4 ch) {
    return ch < 128 ? (ASCII_CLASS[ch] & 2) != 0 : Py_UNICODE_ISSPACE(ch);
}

/* hash_cp of the n tokens from token i joined by single spaces, without joining them */
static inline uint64_t hash_tokens(const Py_UCS4 *s, const Py_ssize_t *start,
                                   const Py_ssize_t *tlen, Py_ssize_t i, int n) {
    Py_ssize_t glen = n - 1;
    for (int m = 0; m < n; m++) glen += tlen[i + m];
    uint64_t h = SEED ^ (uint64_t)glen;
    for (int m = 0; m < n; m++) {
        if (m) h = (h ^ ' ') * 0x100000001b3ULL;
        for (Py_ssize_t j = start[i + m]; j < start[i + m] + tlen[i + m]; j++)
            h = (h ^ s[j]) * 0x100000001b3ULL;
    }
    return mix64(h);
}

/* "word": tokens are maximal runs of \w; n-grams join tokens with one space. */
static int word_grams(const Table *t, const Py_UCS4 *s, Py_ssize_t len, Counts *c) {
    /* a token and the character after it: at most (len + 1) / 2 tokens */
    Py_ssize_t *start = malloc(sizeof(Py_ssize_t) * (size_t)(len / 2 + 1));
    Py_ssize_t *tlen = malloc(sizeof(Py_ssize_t) * (size_t)(len / 2 + 1));
    Py_UCS4 *gram = malloc(sizeof(Py_UCS4) * (size_t)(t->max_term + 1));
    int rc = 0;
    if (!start || !tlen || !gram) { rc = -1; goto done; }
    Py_ssize_t ntok = 0;
    for (Py_ssize_t i = 0; i < len;) {
        if (!is_word_char(s[i])) { i++; continue; }
        Py_ssize_t j = i;
        while (j < len && is_word_char(s[j])) j++;
        start[ntok] = i; tlen[ntok] = j - i; ntok++;
        i = j;
    }
    for (int n = t->min_n; n <= t->max_n && rc == 0; n++) {
        for (Py_ssize_t i = 0; i + n <= ntok; i++) {
            /* every token is probed afresh, each probe a cache miss: ask for the slot of
             * the n-gram PREFETCH_AHEAD tokens on while this one is probed */
            Py_ssize_t ahead = i + PREFETCH_AHEAD;
            if (ahead + n <= ntok)
                __builtin_prefetch(t->slots + (hash_tokens(s, start, tlen, ahead, n) & t->mask));
            Py_ssize_t glen = n - 1;
            for (int m = 0; m < n; m++) glen += tlen[i + m];
            if (glen > t->max_term) continue;
            Py_ssize_t pos = 0;
            for (int m = 0; m < n; m++) {
                if (m) gram[pos++] = ' ';
                memcpy(gram + pos, s + start[i + m], sizeof(Py_UCS4) * (size_t)tlen[i + m]);
                pos += tlen[i + m];
            }
            Py_ssize_t id = lookup(t, gram, glen);
            if (id >= 0 && counts_add(c, (uint32_t)id, 1.0) < 0) { rc = -1; break; }
        }
    }
done:
    free(start); free(tlen); free(gram);
    return rc;
}

#define MAX_PROBE 64
#define HINT_MOST (1 << 16)     /* distinct n-grams a count table starts with room for */

/* How many n-gram ids a word of `wlen` code points can have, at most. */
static Py_ssize_t word_ids_room(const Table *t, Py_ssize_t wlen) {
    return (Py_ssize_t)(t->max_n - t->min_n + 1) * (wlen + 2);
}

/* The vocabulary ids of one whitespace-delimited word's n-grams, padded with a space each
 * side, exactly as scikit-learn's _char_wb_ngrams: a padded word no longer than n is one
 * n-gram (the whole of it) and ends the loop over n. `out` holds at least
 * word_ids_room(t, wlen) ids; returns how many it wrote. */
static Py_ssize_t word_char_ids(const Table *t, const Py_UCS4 *w, Py_ssize_t wlen,
                                Py_UCS4 *padded, uint32_t *out) {
    Py_ssize_t plen = wlen + 2, n_out = 0;
    padded[0] = ' ';
    memcpy(padded + 1, w, sizeof(Py_UCS4) * (size_t)wlen);
    padded[plen - 1] = ' ';
    /* A word met for the first time probes the vocabulary once per n-gram, each probe a
     * cache miss: the slots of its first PREFETCH_GRAMS n-grams are asked for together
     * before any is probed, so the misses overlap. */
    Py_ssize_t asked = 0;
    for (int n = t->min_n; n <= t->max_n && asked < PREFETCH_GRAMS; n++) {
        Py_ssize_t len = plen <= n ? plen : n;
        for (Py_ssize_t off = 0; off + len <= plen && asked < PREFETCH_GRAMS; off++, asked++)
            if (len <= t->max_term)
                __builtin_prefetch(t->slots + (hash_cp(padded + off, len) & t->mask));
        if (plen <= n) break;
    }
    for (int n = t->min_n; n <= t->max_n; n++) {
        if (plen <= n) {
            Py_ssize_t id = lookup(t, padded, plen);
            if (id >= 0) out[n_out++] = (uint32_t)id;
            break;
        }
        for (Py_ssize_t off = 0; off + n <= plen; off++) {
            Py_ssize_t id = lookup(t, padded + off, n);
            if (id >= 0) out[n_out++] = (uint32_t)id;
        }
    }
    return n_out;
}

static int add_ids(Counts *c, const uint32_t *ids, Py_ssize_t n, double times) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (counts_add(c, ids[i], times) < 0) return -1;
    return 0;
}

static int cache_alloc(WordCache *wc) {
    wc->words = calloc(CACHE_SLOTS, sizeof(Word));
    wc->keys = malloc(sizeof(Py_UCS4) * CACHE_KEY_CPS);
    wc->ids = malloc(sizeof(uint32_t) * CACHE_IDS);
    wc->used = wc->key_used = wc->ids_used = 0;
    return wc->words && wc->keys && wc->ids ? 0 : -1;
}

static void cache_free(WordCache *wc) {
    free(wc->words); free(wc->keys); free(wc->ids);
    wc->words = NULL; wc->keys = NULL; wc->ids = NULL;
}

/* The slot holding this word, or the empty slot it would go in; NULL after a long probe
 * (the word is then neither found nor kept). */
static Word *cache_slot(WordCache *wc, const Py_UCS4 *w, Py_ssize_t wlen, uint64_t h) {
    size_t mask = CACHE_SLOTS - 1, i = (size_t)h & mask;
    h |= 1;                                 /* 0 marks an empty slot */
    for (int probe = 0; probe < MAX_PROBE; probe++, i = (i + 1) & mask) {
        Word *e = wc->words + i;
        if (!e->hash) return e;
        if (e->hash == h && e->key_len == (uint32_t)wlen
                && same_cps(wc->keys + e->key_off, w, wlen))
            return e;
    }
    return NULL;
}

/* Adds one word's n-grams, `times` over, through the cache. `scratch` holds
 * word_ids_room(t, wlen) ids. Called with cache_lock held. */
static int cached_word(Table *t, const Py_UCS4 *w, Py_ssize_t wlen, uint64_t h,
                       Py_UCS4 *padded, uint32_t *scratch, double times, Counts *c) {
    WordCache *wc = &t->cache;
    Word *e = wlen <= CACHE_LONGEST_WORD ? cache_slot(wc, w, wlen, h) : NULL;
    if (e && e->hash)
        return add_ids(c, wc->ids + e->ids_off, e->n_ids, times);
    Py_ssize_t n = word_char_ids(t, w, wlen, padded, scratch);
    if (e) {
        if ((wc->used + 1) * 2 > CACHE_SLOTS || wc->key_used + wlen > CACHE_KEY_CPS
                || wc->ids_used + n > CACHE_IDS) {     /* full: start again */
            memset(wc->words, 0, sizeof(Word) * CACHE_SLOTS);
            wc->used = wc->key_used = wc->ids_used = 0;
            e = cache_slot(wc, w, wlen, h);
        }
        *e = (Word){h | 1, wc->key_used, (uint32_t)wlen, wc->ids_used, (uint32_t)n};
        memcpy(wc->keys + wc->key_used, w, sizeof(Py_UCS4) * (size_t)wlen);
        memcpy(wc->ids + wc->ids_used, scratch, sizeof(uint32_t) * (size_t)n);
        wc->used++; wc->key_used += (uint32_t)wlen; wc->ids_used += (uint32_t)n;
    }
    return add_ids(c, scratch, n, times);
}

static int char_wb_grams(Table *t, const Py_UCS4 *s, Py_ssize_t len, Counts *c) {
    /* distinct words first (mail repeats its words), each with how often it occurs;
     * the table is sized by a count of the words, at most half full */
    size_t nwords = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        nwords += !is_space(s[i]) && (i == 0 || is_space(s[i - 1]));
    size_t cap = pow2_at_least(nwords * 2 + 1);
    Py_ssize_t *wstart = malloc(sizeof(Py_ssize_t) * cap);
    Py_ssize_t *wlen = calloc(cap, sizeof(Py_ssize_t));
    uint64_t *whash = malloc(sizeof(uint64_t) * cap);
    double *wcount = malloc(sizeof(double) * cap);
    Py_ssize_t longest = 0;
    Py_UCS4 *padded = NULL;
    uint32_t *scratch = NULL;
    int rc = 0;
    if (!wstart || !wlen || !whash || !wcount) { rc = -1; goto done; }
    for (Py_ssize_t i = 0; i < len;) {
        if (is_space(s[i])) { i++; continue; }
        Py_ssize_t j = i;
        while (j < len && !is_space(s[j])) j++;
        Py_ssize_t n = j - i;
        if (n > longest) longest = n;
        uint64_t h = hash_cp(s + i, n);
        size_t slot = (size_t)h & (cap - 1);
        int placed = 0;
        for (int probe = 0; probe < MAX_PROBE; probe++, slot = (slot + 1) & (cap - 1)) {
            if (!wlen[slot]) {
                wstart[slot] = i; wlen[slot] = n; whash[slot] = h; wcount[slot] = 1.0;
                placed = 1;
                break;
            }
            if (whash[slot] == h && wlen[slot] == n
                    && memcmp(s + wstart[slot], s + i, sizeof(Py_UCS4) * (size_t)n) == 0) {
                wcount[slot] += 1.0;
                placed = 1;
                break;
            }
        }
        if (!placed) {          /* a long probe: count this occurrence on its own */
            padded = malloc(sizeof(Py_UCS4) * (size_t)(n + 2));
            scratch = malloc(sizeof(uint32_t) * (size_t)word_ids_room(t, n));
            rc = padded && scratch
                 ? add_ids(c, scratch, word_char_ids(t, s + i, n, padded, scratch), 1.0) : -1;
            free(padded); free(scratch);
            padded = NULL; scratch = NULL;
            if (rc < 0) goto done;
        }
        i = j;
    }
    padded = malloc(sizeof(Py_UCS4) * (size_t)(longest + 2));
    scratch = malloc(sizeof(uint32_t) * (size_t)word_ids_room(t, longest));
    if (!padded || !scratch) { rc = -1; goto done; }
    PyThread_acquire_lock(t->cache_lock, WAIT_LOCK);
    if (!t->cache.words && cache_alloc(&t->cache) < 0) {
        cache_free(&t->cache);
        rc = -1;
    }
    for (size_t slot = 0; slot < cap && rc == 0; slot++)
        if (wlen[slot])
            rc = cached_word(t, s + wstart[slot], wlen[slot], whash[slot], padded, scratch,
                             wcount[slot], c);
    PyThread_release_lock(t->cache_lock);
done:
    free(wstart); free(wlen); free(whash); free(wcount); free(padded); free(scratch);
    return rc;
}

/* -- Table methods -------------------------------------------------------------------- */

static void Table_dealloc(Table *t) {
    free(t->slots); free(t->rows);
    cache_free(&t->cache);
    if (t->cache_lock) PyThread_free_lock(t->cache_lock);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* Copies a float32 buffer of `n` rows x `per_row` values into `dst`, whose rows are
 * `stride` floats long, from column `col`. */
static int copy_floats(PyObject *obj, Py_ssize_t n, Py_ssize_t per_row, const char *name,
                       float *dst, Py_ssize_t stride, Py_ssize_t col) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    int ok = view.format && view.itemsize == 4 && strcmp(view.format, "f") == 0
             && view.len == n * per_row * 4;
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s must be C-contiguous float32 with %zd values",
                     name, n * per_row);
        PyBuffer_Release(&view);
        return -1;
    }
    const float *src = view.buf;
    for (Py_ssize_t r = 0; r < n; r++)
        memcpy(dst + r * stride + col, src + r * per_row, sizeof(float) * (size_t)per_row);
    PyBuffer_Release(&view);
    return 0;
}

static int Table_init(Table *t, PyObject *args, PyObject *kw) {
    static char *names[] = {"terms", "idf", "weights", "k", "analyzer", "min_n", "max_n",
                            "sublinear", NULL};
    PyObject *terms, *idf, *weights;
    const char *analyzer;
    Py_ssize_t k;
    int min_n, max_n, sublinear;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!OOnsiip", names, &PyList_Type, &terms,
                                     &idf, &weights, &k, &analyzer, &min_n, &max_n,
                                     &sublinear))
        return -1;
    if (strcmp(analyzer, "word") && strcmp(analyzer, "char_wb")) {
        PyErr_SetString(PyExc_ValueError, "analyzer must be 'word' or 'char_wb'");
        return -1;
    }
    if (min_n < 1 || max_n < min_n || k < 1) {
        PyErr_SetString(PyExc_ValueError, "bad n-gram range or k");
        return -1;
    }
    if (t->rows || t->slots || t->cache_lock) {
        PyErr_SetString(PyExc_RuntimeError, "NgramTable is initialised once");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(terms), total = 0;
    if (n >= (Py_ssize_t)UINT32_MAX - 1) {
        PyErr_SetString(PyExc_ValueError, "too many terms");
        return -1;
    }
    t->char_wb = analyzer[0] == 'c';
    if (t->char_wb && !(t->cache_lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    t->min_n = min_n; t->max_n = max_n; t->sublinear = sublinear;
    t->n_features = n; t->k = k; t->max_term = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(terms, i);
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "terms must be str");
            return -1;
        }
        total += PyUnicode_GET_LENGTH(s);
    }
    if (total >= (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "terms too long");
        return -1;
    }
    t->rows = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)(k + 1));
    Py_UCS4 *cps = malloc(sizeof(Py_UCS4) * (size_t)(total + 1));    /* one term at a time */
    size_t cap = pow2_at_least((size_t)n * 2 + 1);
    t->slots = calloc(cap, sizeof(Slot));
    t->mask = cap - 1;
    if (!t->rows || !cps || !t->slots) {
        free(cps);
        PyErr_NoMemory();
        return -1;
    }
    int rc = copy_floats(idf, n, 1, "idf", t->rows, k + 1, 0) < 0
             || copy_floats(weights, n, k, "weights", t->rows, k + 1, 1) < 0 ? -1 : 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        PyObject *s = PyList_GET_ITEM(terms, i);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s);
        if (!PyUnicode_AsUCS4(s, cps, total + 1, 0)) { rc = -1; break; }
        if (len > t->max_term) t->max_term = len;
        uint64_t h = hash_cp(cps, len);
        size_t i_slot = (size_t)h & t->mask;
        for (; t->slots[i_slot].id; i_slot = (i_slot + 1) & t->mask)
            if (t->slots[i_slot].hash == h) {       /* once in ~10^10 loads: say so */
                PyErr_SetString(PyExc_RuntimeError, "two terms share a hash; load again");
                rc = -1;
                break;
            }
        if (rc == 0) t->slots[i_slot] = (Slot){h, (uint32_t)i + 1};
    }
    free(cps);
    if (rc < 0) { free(t->slots); t->slots = NULL; }
    return rc;
}

PyDoc_STRVAR(dot_doc,
"dot(text) -> list of k floats: the text's l2-normalised TF-IDF row times the weights.\n"
"`text` must already be lower-cased as the vectorizer would.");

static PyObject *Table_dot(Table *t, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    if (!t->slots) {
        PyErr_SetString(PyExc_RuntimeError, "NgramTable is not initialised");
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    Py_UCS4 *s = PyUnicode_AsUCS4Copy(text);
    if (!s) return NULL;
    double *out = calloc((size_t)t->k, sizeof(double));
    if (!out) { PyMem_Free(s); return PyErr_NoMemory(); }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    Counts c;
    /* room for the text's distinct n-grams (a char_wb text has about one per character,
     * a word text one per seven): growing the table as it filled cost a fifth of the
     * time. A longer text starts with room for HINT_MOST and grows as it fills. */
    Py_ssize_t hint = (t->char_wb ? len : len / 4) + 64;
    rc = counts_init(&c, (size_t)(hint < HINT_MOST ? hint : HINT_MOST));
    if (rc == 0)
        rc = t->char_wb ? char_wb_grams(t, s, len, &c) : word_grams(t, s, len, &c);
    if (rc == 0) {
        /* A mail's features land all over the weight rows, each row a cache miss: the
         * used slots are listed first, so that the row PREFETCH_AHEAD entries on can be
         * asked for while this one is added (same order of sums, same result). */
        size_t n_used = 0;
        for (size_t i = 0; i <= c.mask; i++)
            if (c.key[i]) c.key[n_used] = c.key[i], c.count[n_used++] = c.count[i];
        double sumsq = 0.0;
        const size_t stride = (size_t)(t->k + 1);
        for (size_t i = 0; i < n_used; i++) {
            if (i + PREFETCH_AHEAD < n_used)
                __builtin_prefetch(t->rows + (size_t)(c.key[i + PREFETCH_AHEAD] - 1) * stride);
            uint32_t id = c.key[i] - 1;
            double tf = t->sublinear ? 1.0 + log(c.count[i]) : c.count[i];
            const float *row = t->rows + (size_t)id * stride;
            double v = tf * row[0];
            const float *w = row + 1;
            sumsq += v * v;
            for (Py_ssize_t j = 0; j < t->k; j++) out[j] += v * w[j];
        }
        if (sumsq > 0) {
            double norm = sqrt(sumsq);
            for (Py_ssize_t j = 0; j < t->k; j++) out[j] /= norm;
        }
    }
    free(c.key); free(c.count);
    Py_END_ALLOW_THREADS
    PyMem_Free(s);
    if (rc < 0) { free(out); return PyErr_NoMemory(); }
    PyObject *result = PyList_New(t->k);
    for (Py_ssize_t j = 0; result && j < t->k; j++) {
        PyObject *f = PyFloat_FromDouble(out[j]);
        if (!f) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, j, f);
    }
    free(out);
    return result;
}

static PyMethodDef Table_methods[] = {
    {"dot", (PyCFunction)Table_dot, METH_O, dot_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifiers._ngrams.NgramTable",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "NgramTable(terms, idf, weights, k, analyzer, min_n, max_n, sublinear)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Table_init,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_methods = Table_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ngrams", "Compiled TF-IDF scoring (see classifiers.model).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ngrams(void) {
    /* A per-process seed, so that nobody can precompute words that collide. */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *bytes = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
    Py_XDECREF(os);
    if (!bytes) return NULL;
    memcpy(&SEED, PyBytes_AS_STRING(bytes), 8);
    ascii_classes();
    Py_DECREF(bytes);
    if (PyType_Ready(&TableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "NgramTable", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
