/* The word-level half of `classifiers.normalise.normalise`, compiled:
 * r3peated letters collapsed, s p a c e d runs joined, and each word fixed (leetspeak,
 * masks, doubled letters), joined by single spaces. `normalise.py` holds the Python
 * version of the same steps (`_tidy`), and the word lists and rules both read; the tests
 * hold the two to the same output on the training text, mail and generated hostile text.
 *
 * Why C: a 5 KB mail is ~800 words, and each step in Python is a regex pass or an
 * interpreter step per word: ~0.3 ms a message, more for words met for the first time.
 *
 * What stays in Python, called from here: a word holding a mask or leet character or any
 * character beyond ASCII (`_fix_token`, remembered in `_FIXED`, which the Python steps
 * share: "12:30", "f*ck", "£5"), and the joining of a spaced run once found
 * (`_join_run`). Both are rare, and their rules (units, numbers, the lexicon's masks)
 * then live in one place.
 *
 * Hostile input: each step is one pass over the text (a spaced run that fails is
 * scanned once, see spaced_match), buffers grow by doubling, the word tables are built
 * once from the lexicon, and the remembered words are bounded in count and length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* -- a growable buffer of code points --------------------------------------------- */

typedef struct {
    Py_UCS4 *data;
    Py_ssize_t len, cap;
} Buf;

static int buf_room(Buf *b, Py_ssize_t more) {
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    Py_UCS4 *data = PyMem_Realloc(b->data, sizeof(Py_UCS4) * (size_t)cap);
    if (!data) { PyErr_NoMemory(); return -1; }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const Py_UCS4 *s, Py_ssize_t n) {
    if (buf_room(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, sizeof(Py_UCS4) * (size_t)n);
    b->len += n;
    return 0;
}

static inline int buf_char(Buf *b, Py_UCS4 c) { return buf_put(b, &c, 1); }

/* any str, appended */
static int buf_str(Buf *b, PyObject *str) {
    if (!PyUnicode_Check(str)) {
        PyErr_SetString(PyExc_TypeError, "a normaliser step gave something other than str");
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    if (buf_room(b, n) < 0) return -1;
    if (!PyUnicode_AsUCS4(str, b->data + b->len, n, 0)) return -1;
    b->len += n;
    return 0;
}

/* -- a set of words, with an optional value each ------------------------------------ */

typedef struct {
    Py_UCS4 *key, *value;       /* key NULL: empty */
    Py_ssize_t key_len, value_len;
} Entry;

typedef struct {
    Entry *slots;
    size_t mask;
} Words;

static inline uint64_t hash_cps(const Py_UCS4 *s, Py_ssize_t n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static const Entry *words_find(const Words *w, const Py_UCS4 *s, Py_ssize_t n) {
    for (size_t i = hash_cps(s, n) & w->mask;; i = (i + 1) & w->mask) {
        const Entry *e = &w->slots[i];
        if (!e->key) return NULL;
        if (e->key_len == n && memcmp(e->key, s, sizeof(Py_UCS4) * (size_t)n) == 0) return e;
    }
}

static Py_UCS4 *copy_str(PyObject *str, Py_ssize_t *len) {
    if (!PyUnicode_Check(str)) {
        PyErr_SetString(PyExc_TypeError, "word lists hold str");
        return NULL;
    }
    *len = PyUnicode_GET_LENGTH(str);
    return PyUnicode_AsUCS4Copy(str);
}

static void words_free(Words *w) {
    if (!w->slots) return;
    for (size_t i = 0; i <= w->mask; i++) {
        PyMem_Free(w->slots[i].key);
        PyMem_Free(w->slots[i].value);
    }
    PyMem_Free(w->slots);
    w->slots = NULL;
}

/* `items`: an iterable of str (a set) or a dict of str -> str */
static int words_build(Words *w, PyObject *items) {
    Py_ssize_t n = PyObject_Length(items);
    if (n < 0) return -1;
    size_t size = 16;
    while (size < (size_t)n * 2 + 2) size <<= 1;
    w->slots = PyMem_Calloc(size, sizeof(Entry));
    if (!w->slots) { PyErr_NoMemory(); return -1; }
    w->mask = size - 1;
    int is_map = PyDict_Check(items);
    PyObject *it = PyObject_GetIter(items), *key;
    if (!it) return -1;
    while ((key = PyIter_Next(it))) {
        Py_ssize_t klen = 0, vlen = 0;
        Py_UCS4 *k = copy_str(key, &klen), *v = NULL;
        if (k && is_map) {
            PyObject *value = PyDict_GetItemWithError(items, key);
            v = value ? copy_str(value, &vlen) : NULL;
            if (!v) { PyMem_Free(k); k = NULL; }
        }
        Py_DECREF(key);
        if (!k) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "a word without a value");
            Py_DECREF(it);
            return -1;
        }
        size_t i = hash_cps(k, klen) & w->mask;
        while (w->slots[i].key) i = (i + 1) & w->mask;
        w->slots[i] = (Entry){k, v, klen, vlen};
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* -- character classes, as Python's str methods and re see them -------------------- */

enum { C_ALPHA = 1, C_WORD = 2, C_SPACE = 4, C_RUN_LETTER = 8, C_RUN_SEP = 16 };
static unsigned char CLASS[128];        /* set once, when the module loads */

static void classes_init(void) {
    for (int c = 0; c < 128; c++) {
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int digit = c >= '0' && c <= '9';
        if (alpha) CLASS[c] |= C_ALPHA;
        if (alpha || digit || c == '_') CLASS[c] |= C_WORD;                 /* \w */
        if ((c >= 9 && c <= 13) || (c >= 28 && c <= 32)) CLASS[c] |= C_SPACE; /* str.split */
        if (c && ((c >= 'a' && c <= 'z') || digit || strchr("@$!*", c)))
            CLASS[c] |= C_RUN_LETTER;                                       /* _SPACED */
        if (c && strchr(" .-_,/", c)) CLASS[c] |= C_RUN_SEP;
    }
}

/* Beyond ASCII only \w and whitespace are asked about: a token holding such a character
 * goes to `_fix_token` whole, and spaced runs are made of ASCII. */
static inline int is_word(Py_UCS4 c) {
    return c < 128 ? CLASS[c] & C_WORD : Py_UNICODE_ISALNUM(c);
}
static inline int is_space(Py_UCS4 c) {
    return c < 128 ? CLASS[c] & C_SPACE : Py_UNICODE_ISSPACE(c);
}
#define IS(c, cls) ((c) < 128 && (CLASS[c] & (cls)))

/* -- the normaliser ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Words known;                /* normalise._KNOWN */
    Words leet_words;           /* normalise._LEET_WORDS */
    unsigned char lead[128];    /* normalise._LEAD_ASCII: punctuation before a word */
    unsigned char trail[128];   /* normalise._TRAIL_ASCII: and after it */
    unsigned char rare[128];    /* 1: mask and leet characters, 2: leet digits; a word
                                   with a 1, or a 2 and a letter, goes to fix_token; of
                                   others ("well-known", "and/or", "12:30") only the leet
                                   words and doubled letters change */
    PyObject *fix_token;        /* normalise._fix_token: words with masks, leet, non-ASCII */
    PyObject *join_run;         /* normalise._join_run: a spaced run found */
    PyObject *remembered;       /* normalise._FIXED: token -> _fix_token(token), shared */
    Py_ssize_t remembered_max;      /* emptied when it holds this many */
    Py_ssize_t remembered_longest;  /* longer tokens are not kept */
} Tidier;

static int is_known(const Tidier *t, const Py_UCS4 *s, Py_ssize_t n) {
    return words_find(&t->known, s, n) != NULL;
}

/* r3peated letters: a run of three or more of one character becomes one, but for masks
 * (`*`, `#`), which keep their stars: `_REPEAT3.sub(_collapse_repeat, ...)` */
static int collapse_repeats(const Py_UCS4 *s, Py_ssize_t n, Buf *out) {
    if (buf_room(out, n) < 0) return -1;
    Py_UCS4 *o = out->data + out->len;
    for (Py_ssize_t i = 0; i < n;) {
        if (i + 2 >= n || s[i] != s[i + 1] || s[i] != s[i + 2] || s[i] == '*' || s[i] == '#') {
            *o++ = s[i++];          /* most characters: not the first of three alike */
            continue;
        }
        Py_UCS4 c = s[i];
        while (i < n && s[i] == c) i++;
        *o++ = c;
    }
    out->len = o - out->data;
    return 0;
}

/* The end of the `_SPACED` match at `p`, or -1: (?<![\w*])((?:L S){2,}L)(?![\w*]), where
 * the greedy repeat gives back one pair at a time until the lookahead holds. A pair given
 * back leaves a letter followed by its separator, which the lookahead accepts unless the
 * separator is `_` (a \w): so a failed run fails at its start and costs one pass. */
static Py_ssize_t spaced_match(const Py_UCS4 *s, Py_ssize_t n, Py_ssize_t p) {
    if (p > 0 && (is_word(s[p - 1]) || s[p - 1] == '*')) return -1;
    Py_ssize_t pairs = 0;
    while (p + 2 * pairs + 1 < n && IS(s[p + 2 * pairs], C_RUN_LETTER)
           && IS(s[p + 2 * pairs + 1], C_RUN_SEP))
        pairs++;
    for (Py_ssize_t k = pairs; k >= 2; k--) {
        Py_ssize_t last = p + 2 * k;
        if (last < n && IS(s[last], C_RUN_LETTER)
            && (last + 1 == n || !(is_word(s[last + 1]) || s[last + 1] == '*')))
            return last + 1;
    }
    return -1;
}

/* s p a c e d and d.o.t.t.e.d runs joined: `_SPACED.sub` with `_join_run` */
static int join_spaced(const Tidier *t, const Py_UCS4 *s, Py_ssize_t n, Buf *out) {
    Py_ssize_t done = 0;
    for (Py_ssize_t p = 0; p + 4 < n; p++) {
        /* a run starts with a letter and a separator: most positions are ruled out here */
        if (!IS(s[p], C_RUN_LETTER) || !IS(s[p + 1], C_RUN_SEP)) continue;
        Py_ssize_t end = spaced_match(s, n, p);
        if (end < 0) continue;
        PyObject *joined = PyObject_CallFunction(
            t->join_run, "N", PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s + p, end - p));
        if (!joined) return -1;
        int rc = buf_put(out, s + done, p - done) < 0 ? -1 : buf_str(out, joined);
        Py_DECREF(joined);
        if (rc < 0) return -1;
        done = end;
        p = end - 1;
    }
    return buf_put(out, s + done, n - done);
}

static int all_alpha(const Py_UCS4 *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (!IS(s[i], C_ALPHA)) return 0;
    return n > 0;
}

/* An ASCII word with a mask or leet character in it, or a leet digit beside a letter
 * (the rules `_fix_token` holds) */
static int has_rare(const Tidier *t, const Py_UCS4 *s, Py_ssize_t n) {
    int digit = 0, letter = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t->rare[s[i]] == 1) return 1;
        digit |= t->rare[s[i]] == 2;
        letter |= IS(s[i], C_ALPHA);
    }
    return digit && letter;
}

/* `_dedouble`: `fuuck` -> `fuck` when collapsing each doubled letter gives a known word
 * (the collapsed form is written where the word would go, and kept only if known) */
static int put_dedoubled(const Tidier *t, const Py_UCS4 *w, Py_ssize_t n, Buf *out) {
    int doubled = 0;
    for (Py_ssize_t i = 0; i + 1 < n && !doubled; i++) doubled = w[i] == w[i + 1];
    if (n < 4 || !doubled || is_known(t, w, n)) return buf_put(out, w, n);
    if (buf_room(out, n) < 0) return -1;
    Py_UCS4 *single = out->data + out->len;
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; m++) {
        single[m] = w[i];
        i += (i + 1 < n && w[i] == w[i + 1]) ? 2 : 1;
    }
    if (is_known(t, single, m)) {
        out->len += m;
        return 0;
    }
    return buf_put(out, w, n);
}

/* a plain word: its leetspeak spelling (`ur`, `stfu`) as words, then de-doubled */
static int put_plain_word(const Tidier *t, const Py_UCS4 *w, Py_ssize_t n, Buf *out) {
    const Entry *e = words_find(&t->leet_words, w, n);
    return e ? put_dedoubled(t, e->value, e->value_len, out) : put_dedoubled(t, w, n, out);
}

/* any other word: `_fix_token`, remembered */
static int put_rare_word(Tidier *t, const Py_UCS4 *w, Py_ssize_t n, Buf *out) {
    PyObject *token = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, w, n);
    if (!token) return -1;
    PyObject *fixed = PyDict_GetItemWithError(t->remembered, token);
    if (fixed) Py_INCREF(fixed);
    else if (!PyErr_Occurred()) {
        fixed = PyObject_CallOneArg(t->fix_token, token);
        if (fixed && n <= t->remembered_longest) {
            if (PyDict_GET_SIZE(t->remembered) >= t->remembered_max) PyDict_Clear(t->remembered);
            if (PyDict_SetItem(t->remembered, token, fixed) < 0) Py_CLEAR(fixed);
        }
    }
    Py_DECREF(token);
    if (!fixed) return -1;
    int rc = buf_str(out, fixed);
    Py_DECREF(fixed);
    return rc;
}

/* `_fix_token` for one whitespace-free token: the punctuation around a word is kept */
static int put_token(Tidier *t, const Py_UCS4 *w, Py_ssize_t n, Buf *out) {
    if (all_alpha(w, n)) return put_plain_word(t, w, n, out);
    for (Py_ssize_t i = 0; i < n; i++)
        if (w[i] >= 128) return put_rare_word(t, w, n, out);
    Py_ssize_t a = 0, b = n;
    while (a < n && t->lead[w[a]]) a++;         /* ASCII: looked at above */
    while (b > a && t->trail[w[b - 1]]) b--;
    if (a == b) return buf_put(out, w, n);
    if (has_rare(t, w + a, b - a)) return put_rare_word(t, w, n, out);
    if (buf_put(out, w, a) < 0 || put_plain_word(t, w + a, b - a, out) < 0) return -1;
    return buf_put(out, w + b, n - b);
}

static int fix_tokens(Tidier *t, const Py_UCS4 *s, Py_ssize_t n, Buf *out) {
    if (buf_room(out, n) < 0) return -1;
    for (Py_ssize_t i = 0; i < n;) {
        while (i < n && is_space(s[i])) i++;
        Py_ssize_t start = i;
        while (i < n && !is_space(s[i])) i++;
        if (i == start) break;
        if (out->len && buf_char(out, ' ') < 0) return -1;
        if (put_token(t, s + start, i - start, out) < 0) return -1;
    }
    return 0;
}

static PyObject *Tidier_call(Tidier *t, PyObject *args, PyObject *kw) {
    PyObject *text;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Tidier takes the text only");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    if (!t->known.slots || !t->leet_words.slots || !t->remembered) {
        PyErr_SetString(PyExc_RuntimeError, "Tidier is not set up");
        return NULL;
    }
    Py_UCS4 *s = PyUnicode_AsUCS4Copy(text);
    if (!s) return NULL;
    Buf once = {0}, twice = {0}, out = {0};
    PyObject *result = NULL;
    if (collapse_repeats(s, PyUnicode_GET_LENGTH(text), &once) == 0
        && join_spaced(t, once.data, once.len, &twice) == 0
        && fix_tokens(t, twice.data, twice.len, &out) == 0)
        result = out.len ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out.data, out.len)
                         : PyUnicode_FromStringAndSize("", 0);
    PyMem_Free(s);
    PyMem_Free(once.data);
    PyMem_Free(twice.data);
    PyMem_Free(out.data);
    return result;
}

static int Tidier_init(Tidier *t, PyObject *args, PyObject *kw) {
    static char *names[] = {"known", "leet_words", "lead", "trail", "rare", "leet_digits",
                            "fix_token", "join_run", "remembered", "remembered_max",
                            "remembered_longest", NULL};
    PyObject *known, *leet_words, *fix_token, *join_run, *remembered;
    const char *lead, *trail, *rare, *digits;
    Py_ssize_t n_lead, n_trail, n_rare, n_digits;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!s#s#s#s#OOO!nn", names, &known,
                                     &PyDict_Type, &leet_words, &lead, &n_lead, &trail,
                                     &n_trail, &rare, &n_rare, &digits, &n_digits,
                                     &fix_token, &join_run, &PyDict_Type, &remembered,
                                     &t->remembered_max, &t->remembered_longest))
        return -1;
    if (t->known.slots) {
        PyErr_SetString(PyExc_RuntimeError, "Tidier is already set up");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n_lead; i++) t->lead[(unsigned char)lead[i] & 127] = 1;
    for (Py_ssize_t i = 0; i < n_trail; i++) t->trail[(unsigned char)trail[i] & 127] = 1;
    for (Py_ssize_t i = 0; i < n_digits; i++) t->rare[(unsigned char)digits[i] & 127] = 2;
    for (Py_ssize_t i = 0; i < n_rare; i++) t->rare[(unsigned char)rare[i] & 127] = 1;
    if (words_build(&t->known, known) < 0 || words_build(&t->leet_words, leet_words) < 0)
        return -1;
    Py_INCREF(remembered);
    t->remembered = remembered;
    Py_INCREF(fix_token);
    Py_INCREF(join_run);
    t->fix_token = fix_token;
    t->join_run = join_run;
    return 0;
}

static void Tidier_dealloc(Tidier *t) {
    words_free(&t->known);
    words_free(&t->leet_words);
    Py_XDECREF(t->fix_token);
    Py_XDECREF(t->join_run);
    Py_XDECREF(t->remembered);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyTypeObject TidierType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifiers._normalise.Tidier",
    .tp_basicsize = sizeof(Tidier),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tidier(known, leet_words, lead, trail, rare, leet_digits, fix_token, "
              "join_run, remembered, remembered_max, remembered_longest)(text) -> the text "
              "with repeats collapsed, spaced runs joined and each word fixed",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tidier_init,
    .tp_dealloc = (destructor)Tidier_dealloc,
    .tp_call = (ternaryfunc)Tidier_call,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "classifiers._normalise",
    "The word-level steps of the normaliser, compiled (see normalise.py).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__normalise(void) {
    classes_init();
    if (PyType_Ready(&TidierType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&TidierType);
    if (PyModule_AddObject(m, "Tidier", (PyObject *)&TidierType) < 0) {
        Py_DECREF(&TidierType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
