/* Whole-text scans of the features (classifiers/features.py), compiled:
 *
 * - Needles(needles).spans(text): every place each needle occurs, overlaps included, as
 *   sorted (start, end) pairs. The counter-speech cues and the exclusion phrases are
 *   regexes run only near their needles; finding 24 needles by str.find is 24 scans of a
 *   5 KB mail (~0.05 ms), here it is one.
 * - letter_counts(text): (capital letters, letters), a letter being what the pattern
 *   [^\W\d_] matches and a capital what str.isupper says of it: the shouting ratio.
 * - word_list(text): the words the lexicon counts read, [a-z0-9']+ runs, in one pass
 *   whatever the text's characters (the Python does ASCII by bytes.translate and the
 *   rest, a third of real mail, by regex).
 * - Structures(flags, bits).count(words): the lexicon's structures (a profanity near
 *   'you', an attack word near a group's name, negated or not, ...) in one pass over a
 *   text's words, where the Python looks each word up, then walks the marked ones.
 * - word_spans(text, terms): where the names of groups are, for masking them; the Python
 *   finds each name by str.find and checks the characters either side.
 *
 * features.py keeps the Python versions as the fallback (extension not built) and the
 * tests hold the two to the same answers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A str's code points as stored; -1 (TypeError) if `text` is not a str. */
typedef struct { int kind; const void *data; Py_ssize_t len; } TextView;

static int text_view(PyObject *text, TextView *v) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return -1;
    }
    v->kind = PyUnicode_KIND(text);
    v->data = PyUnicode_DATA(text);
    v->len = PyUnicode_GET_LENGTH(text);
    return 0;
}

/* -- Needles ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    Py_UCS4 **needle;       /* each needle's code points */
    Py_ssize_t *len;
    Py_ssize_t *next;       /* the next needle with the same first code point; -1 ends */
    Py_ssize_t first[256];  /* first needle starting with this code point (< 256); -1 none */
    Py_ssize_t wide;        /* first needle starting with a code point of 256 or more */
    /* pair[a][b / 8] bit b % 8: a needle may start with code points a, b (both < 256; a
     * one-point needle, or one whose second is 256 or more, allows every b). Most places
     * of a text fail this test, and only the rest walk a chain. */
    uint8_t pair[256][32];
} Needles;

static void Needles_clear(Needles *self) {
    for (Py_ssize_t i = 0; i < self->n; i++) PyMem_Free(self->needle[i]);
    PyMem_Free(self->needle); PyMem_Free(self->len); PyMem_Free(self->next);
    self->needle = NULL; self->len = NULL; self->next = NULL;
    self->n = 0;
}

static void Needles_dealloc(Needles *self) {
    Needles_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Each chain lists its needles shortest first, so that spans at one start come out in
 * the order sorting (start, end) pairs would give. */
static void chain_insert(Needles *self, Py_ssize_t *head, Py_ssize_t i) {
    Py_ssize_t *at = head;
    while (*at >= 0 && self->len[*at] <= self->len[i]) at = &self->next[*at];
    self->next[i] = *at;
    *at = i;
}

static int Needles_init(Needles *self, PyObject *args, PyObject *kw) {
    PyObject *seq;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Needles takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &seq)) return -1;
    Needles_clear(self);
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    self->needle = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_UCS4 *));
    self->len = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
    self->next = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
    if (!self->needle || !self->len || !self->next) {
        Needles_clear(self);
        PyErr_NoMemory();
        return -1;
    }
    for (int c = 0; c < 256; c++) self->first[c] = -1;
    self->wide = -1;
    memset(self->pair, 0, sizeof(self->pair));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(seq, i);
        if (!PyUnicode_Check(s) || PyUnicode_GET_LENGTH(s) == 0) {
            Needles_clear(self);
            PyErr_SetString(PyExc_ValueError, "needles must be non-empty str");
            return -1;
        }
        self->n = i + 1;            /* so that a failure below frees this one too */
        self->needle[i] = PyUnicode_AsUCS4Copy(s);
        if (!self->needle[i]) { Needles_clear(self); return -1; }
        self->len[i] = PyUnicode_GET_LENGTH(s);
        Py_UCS4 c = self->needle[i][0];
        chain_insert(self, c < 256 ? &self->first[c] : &self->wide, i);
        if (c < 256) {
            Py_UCS4 d = self->len[i] > 1 ? self->needle[i][1] : 256;
            if (d < 256)
                self->pair[c][d / 8] |= (uint8_t)(1u << (d % 8));
            else
                memset(self->pair[c], 0xff, sizeof(self->pair[c]));
        }
    }
    return 0;
}

static int add_span(PyObject *out, Py_ssize_t start, Py_ssize_t end) {
    PyObject *pair = Py_BuildValue("(nn)", start, end);
    if (!pair) return -1;
    int rc = PyList_Append(out, pair);
    Py_DECREF(pair);
    return rc;
}

/* One scan of `text` (code points of type T), appending to `out`; -1 on error. */
#define SCAN(T)                                                                           \
    static int scan_##T(const Needles *self, const T *s, Py_ssize_t len, PyObject *out) { \
        for (Py_ssize_t at = 0; at < len; at++) {                                         \
            Py_UCS4 c = s[at];                                                            \
            Py_ssize_t j = self->wide;                                                    \
            if (c < 256) {                                                                \
                if (at + 1 < len && s[at + 1] < 256                                       \
                        && !(self->pair[c][s[at + 1] / 8] & (1u << (s[at + 1] % 8))))     \
                    continue;                                                             \
                j = self->first[c];                                                       \
            }                                                                             \
            for (; j >= 0; j = self->next[j]) {                                           \
                const Py_UCS4 *w = self->needle[j];                                       \
                Py_ssize_t m = self->len[j], k = 0;                                       \
                if (at + m > len) continue;                                               \
                while (k < m && s[at + k] == w[k]) k++;                                   \
                if (k == m && add_span(out, at, at + m) < 0) return -1;                   \
            }                                                                             \
        }                                                                                 \
        return 0;                                                                         \
    }

SCAN(Py_UCS1)
SCAN(Py_UCS2)
SCAN(Py_UCS4)

static PyObject *Needles_spans(Needles *self, PyObject *text) {
    TextView v;
    if (text_view(text, &v) < 0) return NULL;
    if (!self->needle) {
        PyErr_SetString(PyExc_RuntimeError, "Needles is not initialised");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    int rc;
    switch (v.kind) {
    case PyUnicode_1BYTE_KIND: rc = scan_Py_UCS1(self, v.data, v.len, out); break;
    case PyUnicode_2BYTE_KIND: rc = scan_Py_UCS2(self, v.data, v.len, out); break;
    default: rc = scan_Py_UCS4(self, v.data, v.len, out); break;
    }
    if (rc < 0) Py_CLEAR(out);
    return out;
}

static PyMethodDef Needles_methods[] = {
    {"spans", (PyCFunction)Needles_spans, METH_O,
     "spans(text) -> sorted list of (start, end) of every occurrence of every needle"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject NeedlesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifiers._scan.Needles",
    .tp_basicsize = sizeof(Needles),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Needles(tuple_of_str): finds them all in one scan (see spans)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Needles_init,
    .tp_dealloc = (destructor)Needles_dealloc,
    .tp_methods = Needles_methods,
};

/* -- letters ---------------------------------------------------------------------- */

/* A letter as re's [^\W\d_] sees one: \w (alphanumeric or _) that is not \d (a decimal
 * digit) and not _. */
static inline int is_letter(Py_UCS4 c) {
    return c != '_' && Py_UNICODE_ISALNUM(c) && !Py_UNICODE_ISDECIMAL(c);
}

static PyObject *letter_counts(PyObject *module, PyObject *text) {
    TextView v;
    if (text_view(text, &v) < 0) return NULL;
    Py_ssize_t upper = 0, letters = 0;
    for (Py_ssize_t i = 0; i < v.len; i++) {
        Py_UCS4 c = PyUnicode_READ(v.kind, v.data, i);
        if (c < 128) {
            upper += c >= 'A' && c <= 'Z';
            letters += (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        } else if (is_letter(c)) {
            letters++;
            upper += Py_UNICODE_ISUPPER(c) != 0;
        }
    }
    return Py_BuildValue("(nn)", upper, letters);
}

/* -- words ------------------------------------------------------------------------ */

static inline int is_word_char(Py_UCS4 c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
}

/* The start of the first run of [a-z0-9'] at or after `from` (v->len: none), and in
 * *end where it ends. */
static Py_ssize_t next_word(const TextView *v, Py_ssize_t from, Py_ssize_t *end) {
    while (from < v->len && !is_word_char(PyUnicode_READ(v->kind, v->data, from))) from++;
    Py_ssize_t j = from;
    while (j < v->len && is_word_char(PyUnicode_READ(v->kind, v->data, j))) j++;
    *end = j;
    return from;
}

/* What re.findall(r"[a-z0-9']+", text) gives: features.words_of. */
static PyObject *word_list(PyObject *module, PyObject *text) {
    TextView v;
    if (text_view(text, &v) < 0) return NULL;
    PyObject *out = PyList_New(0);
    Py_ssize_t i, j;
    for (i = next_word(&v, 0, &j); out && i < v.len; i = next_word(&v, j, &j)) {
        PyObject *word = PyUnicode_Substring(text, i, j);
        if (!word || PyList_Append(out, word) < 0) Py_CLEAR(out);
        Py_XDECREF(word);
    }
    return out;
}

/* -- structures --------------------------------------------------------------------- */

/* What features.py's flag bits mean, in the order Structures is given them. */
enum { B_PROF, B_SLUR, B_SEX, B_THR, B_DEH, B_ATTACK, B_PROT, B_GEND, B_YOU, B_NEG, B_INS,
       B_PERS, B_NAMED, N_BITS };
#define NEAR 4          /* "near": at most this many words apart */
#define NEGATED_BY 3    /* a negation this many words before an attack word */

typedef struct {
    PyObject_HEAD
    PyObject *flags;        /* dict: word -> its bits */
    long bit[N_BITS];
} Structures;

static void Structures_dealloc(Structures *self) {
    Py_CLEAR(self->flags);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Structures_init(Structures *self, PyObject *args, PyObject *kw) {
    PyObject *flags, *bits;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Structures takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &flags, &PyTuple_Type, &bits))
        return -1;
    if (PyTuple_GET_SIZE(bits) != N_BITS) {
        PyErr_Format(PyExc_ValueError, "Structures needs %d bits", N_BITS);
        return -1;
    }
    for (int b = 0; b < N_BITS; b++) {
        self->bit[b] = PyLong_AsLong(PyTuple_GET_ITEM(bits, b));
        if (self->bit[b] == -1 && PyErr_Occurred()) return -1;
    }
    Py_INCREF(flags);
    Py_XSETREF(self->flags, flags);
    return 0;
}

/* Whether a word within NEAR of word i (not i itself) has `bit`. */
static inline int near(const long *f, Py_ssize_t n, Py_ssize_t i, long bit) {
    Py_ssize_t lo = i > NEAR ? i - NEAR : 0, hi = i + NEAR < n ? i + NEAR : n - 1;
    for (Py_ssize_t j = lo; j <= hi; j++)
        if (j != i && (f[j] & bit)) return 1;
    return 0;
}

/* Each word's bits (0 for a word the table lacks); NULL with an exception set. */
static long *word_bits(Structures *self, PyObject *words) {
    Py_ssize_t n = PyList_GET_SIZE(words);
    long *f = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(long));
    if (!f) { PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyDict_GetItemWithError(self->flags, PyList_GET_ITEM(words, i));
        f[i] = v ? PyLong_AsLong(v) : 0;
        if ((v == NULL || f[i] == -1) && PyErr_Occurred()) { PyMem_Free(f); return NULL; }
    }
    return f;
}

/* The words with `bit` among `words`, in order, repeats kept. */
static PyObject *words_with(PyObject *words, const long *f, long bit) {
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(words); i++)
        if ((f[i] & bit) && PyList_Append(out, PyList_GET_ITEM(words, i)) < 0) Py_CLEAR(out);
    return out;
}

static PyObject *Structures_count(Structures *self, PyObject *words) {
    if (!self->flags) {
        PyErr_SetString(PyExc_RuntimeError, "Structures is not initialised");
        return NULL;
    }
    if (!PyList_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "words must be a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(words);
    long *f = word_bits(self, words);
    if (!f) return NULL;
    const long *bit = self->bit;
    Py_ssize_t prof = 0, slur = 0, sex = 0, threat = 0, dehum = 0, pyou = 0, tyou = 0;
    Py_ssize_t attack = 0, negated = 0, gender = 0, insult = 0, insult_person = 0;
    Py_ssize_t sex_person = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        long w = f[i];
        if (!w) continue;
        if (w & bit[B_PROF]) { prof++; pyou += near(f, n, i, bit[B_YOU]); }
        slur += (w & bit[B_SLUR]) != 0;
        if (w & bit[B_SEX]) { sex++; sex_person += near(f, n, i, bit[B_PERS]); }
        if (w & bit[B_THR]) { threat++; tyou += near(f, n, i, bit[B_YOU]); }
        dehum += (w & bit[B_DEH]) != 0;
        if (w & bit[B_INS]) { insult++; insult_person += near(f, n, i, bit[B_PERS]); }
        if (w & bit[B_ATTACK]) {
            if (near(f, n, i, bit[B_PROT])) {
                int neg = 0;
                for (Py_ssize_t j = i > NEGATED_BY ? i - NEGATED_BY : 0; j < i; j++)
                    neg |= (f[j] & bit[B_NEG]) != 0;
                if (neg) negated++; else attack++;
            } else if (near(f, n, i, bit[B_GEND])) {
                gender++;
            }
        }
    }
    PyObject *protected = words_with(words, f, bit[B_PROT]);
    PyObject *named = protected ? words_with(words, f, bit[B_NAMED]) : NULL;
    PyMem_Free(f);
    if (!named) { Py_XDECREF(protected); return NULL; }
    return Py_BuildValue("(nnnnnnnnnnnnn)NN", prof, slur, sex, threat, dehum, pyou, tyou,
                         attack, negated, gender, insult, insult_person, sex_person,
                         protected, named);
}

static PyMethodDef Structures_methods[] = {
    {"count", (PyCFunction)Structures_count, METH_O,
     "count(words) -> ((profanity, slur, sexual, threat, dehumanising, profanity_at_you, "
     "threat_at_you, group_attack, group_attack_negated, gender_attack, insult, "
     "insult_at_person, sexual_at_person), protected words, named groups)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StructuresType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifiers._scan.Structures",
    .tp_basicsize = sizeof(Structures),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Structures(flags, bits): the lexicon's structures in a list of words "
              "(see count)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Structures_init,
    .tp_dealloc = (destructor)Structures_dealloc,
    .tp_methods = Structures_methods,
};

/* -- masking ------------------------------------------------------------------------ */

/* (start, end) of every word of `text` (a run of [a-z0-9']) that is one of `terms`, in
 * order: the names of groups features.mask_groups hides. */
static PyObject *word_spans(PyObject *module, PyObject *args) {
    PyObject *text, *terms;
    if (!PyArg_ParseTuple(args, "OO", &text, &terms)) return NULL;
    TextView v;
    if (text_view(text, &v) < 0) return NULL;
    PyObject *seq = PySequence_Fast(terms, "terms must be iterable");
    if (!seq) return NULL;
    Py_ssize_t n_terms = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t t = 0; t < n_terms; t++)
        if (!PyUnicode_Check(PySequence_Fast_ITEMS(seq)[t])) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "terms must be str");
            return NULL;
        }
    PyObject *out = PyList_New(0);
    Py_ssize_t i, j;
    for (i = next_word(&v, 0, &j); out && i < v.len; i = next_word(&v, j, &j)) {
        for (Py_ssize_t t = 0; t < n_terms; t++) {
            PyObject *term = PySequence_Fast_ITEMS(seq)[t];
            if (PyUnicode_GET_LENGTH(term) != j - i) continue;
            int tk = PyUnicode_KIND(term);
            const void *td = PyUnicode_DATA(term);
            Py_ssize_t k = 0;
            while (k < j - i && PyUnicode_READ(tk, td, k) == PyUnicode_READ(v.kind, v.data, i + k))
                k++;
            if (k == j - i) {
                if (add_span(out, i, j) < 0) Py_CLEAR(out);
                break;
            }
        }
    }
    Py_DECREF(seq);
    return out;
}

static PyMethodDef module_methods[] = {
    {"letter_counts", letter_counts, METH_O,
     "letter_counts(text) -> (capitals, letters), letters as [^\\W\\d_] matches them"},
    {"word_list", word_list, METH_O,
     "word_list(text) -> the runs of [a-z0-9'] in text, as re.findall would give them"},
    {"word_spans", word_spans, METH_VARARGS,
     "word_spans(text, terms) -> (start, end) of each run of [a-z0-9'] that is one of terms"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "classifiers._scan",
    "Whole-text scans of the lexicon counts, compiled (see features.py).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddType(m, &NeedlesType) < 0
              || PyModule_AddType(m, &StructuresType) < 0))
        Py_CLEAR(m);
    return m;
}
