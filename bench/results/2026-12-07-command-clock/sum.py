import sys, statistics as st, collections
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    f=l.split()
    if len(f)<5: continue
    try: d[(f[1],f[2])].append((float(f[3]),float(f[4])))
    except: pass
vs=sorted({k[0] for k in d}); ts=[]
for k in d:
    if k[1] not in ts: ts.append(k[1])
for t in ts:
    row=[t]
    for v in vs:
        xs=d.get((v,t),[])
        if xs: row.append(f"{v}: {st.median(x[0] for x in xs):,.0f}/s {st.median(x[1] for x in xs):.3f}us n={len(xs)}")
    print("  ".join(row))
