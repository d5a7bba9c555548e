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

/* What re.findall(r"[a-z0-9']+", text) gives: features.words_of. */
static PyObject *word_list(PyObject *module, PyObject *text) {
    TextView v;
    if (text_view(text, &v) < 0) return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < v.len;) {
        if (!is_word_char(PyUnicode_READ(v.kind, v.data, i))) { i++; continue; }
        Py_ssize_t j = i + 1;
        while (j < v.len && is_word_char(PyUnicode_READ(v.kind, v.data, j))) j++;
        PyObject *word = PyUnicode_Substring(text, i, j);
        if (!word || PyList_Append(out, word) < 0) Py_CLEAR(out);
        Py_XDECREF(word);
        i = j;
    }
    return out;
}

static PyMethodDef module_methods[] = {
    {"letter_counts", letter_counts, METH_O,
     "letter_counts(text) -> (capitals, letters), letters as [^\\W\\d_] matches them"},
    {"word_list", word_list, METH_O,
     "word_list(text) -> the runs of [a-z0-9'] in text, as re.findall would give them"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "classifiers._scan",
    "Whole-text scans of the lexicon counts, compiled (see features.py).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&NeedlesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&NeedlesType);
    if (PyModule_AddObject(m, "Needles", (PyObject *)&NeedlesType) < 0) {
        Py_DECREF(&NeedlesType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
