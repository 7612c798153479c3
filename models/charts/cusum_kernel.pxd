# Cython's declarations for charts_cusum_kernel.py (pure Python mode, an "augmenting .pxd"):
# the state as C doubles and the step's locals typed, so the step runs without the interpreter.
# The .py stays plain Python and runs as is where the extension is not built.
# cython: language_level=3
cimport cython

cdef double _NAN

cdef class SelfStartingStep:
    cdef public double k_hi, k_lo, h, hs_hi, hs_lo
    cdef public double m, mean, m2, u, t, s_hi, s_lo
    cdef public bint drift
    cdef public long long n_past

    cdef void _restart(self)

    @cython.locals(m=double, m2=double, d=double, n=double, mean=double, inc=double,
                   t=double, a=double, w2=double, w=double, b=double, c=double)
    cpdef int step(self, double x) except -1

    @cython.locals(s_hi=double, s_lo=double)
    cpdef cusum(self, double u)
