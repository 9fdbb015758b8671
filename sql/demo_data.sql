-- sql/demo_data.sql — tileq's demo dataset, generated in SQL (nothing is downloaded).
--
-- Schema "demo", all geometries in EPSG:3857 with a GiST index and an integer primary key:
--   demo.cities  ~200 cities: ~150 real ones (name, position, rough metro population) and ~50
--                generated satellite towns near them; the seeds of everything else.
--   demo.points  ~300,000 places (name, kind, population) clustered around the cities:
--                the cities themselves, towns, villages, hamlets and points of interest.
--   demo.roads   motorways/trunk roads between neighbouring cities and a rotated street grid
--                around each city (primary avenues, residential streets).
--   demo.areas   country-like blocks (Voronoi cells of some cities, cut to rough continent
--                boxes), urban areas, districts and parks.
-- Every row has a "minzoom": the lowest zoom at which the demo tileset's layers show it, so
-- tiles thin out at low zooms without the geometry depending on the tile's bbox.
--
-- Deterministic: every "random" number is a hash of the row's key (demo.rnd), so the same
-- data comes out on every load whatever plan PostgreSQL picks. Loads in a few seconds.
--
-- psql variable "scale" (default 1) multiplies the number of generated places, e.g.
--   psql -v scale=0.2 -f sql/demo_data.sql     (a smaller set for quick tests)
--
-- The demo tileset's layers (deploy/tileq.conf.in) read it like this:
--   places: SELECT geom, name, kind, population FROM demo.points
--           WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id
--   roads:  SELECT geom, name, kind FROM demo.roads  WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id
--   areas:  SELECT geom, name, kind FROM demo.areas  WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id

\set ON_ERROR_STOP 1
\if :{?scale}
\else
\set scale 1
\endif

SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
DO $$ BEGIN PERFORM setseed(0.42); END $$; -- nothing below uses random(); seeded for additions

CREATE EXTENSION IF NOT EXISTS postgis;
DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;

BEGIN;

-- A deterministic pseudo-random number in [0, 1) for key k and stream salt.
CREATE FUNCTION demo.rnd(k bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(k, salt) >> 11) & 4503599627370495)::double precision
           / 4503599627370496.0
$$;

-- A made-up place name for key k: two or three syllables.
CREATE FUNCTION demo.name(k bigint, salt integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT initcap(
        (ARRAY['ka','lo','mi','ra','ten','bur','sha','vil','do','ne','ri','sa','po','lan','ver',
               'sto','mar','gel','an','or','is','ul','zen','ta','bel','cor','fen','hal','mon','tir',
               'val','wes'])[1 + floor(demo.rnd(k, salt) * 32)::int] ||
        (ARRAY['a','e','i','o','u','ar','en','il','on','us','ea','ia'])[1 + floor(demo.rnd(k, salt + 1) * 12)::int] ||
        CASE WHEN demo.rnd(k, salt + 2) < 0.6
             THEN (ARRAY['burg','ford','ton','ville','stad','dorf','polis','mouth','field','haven',
                         'by','ro','dal','mere','gate','ham'])[1 + floor(demo.rnd(k, salt + 3) * 16)::int]
             ELSE '' END)
$$;

-- Rough land boxes (lon/lat): the generated things stay inside them, the oceans stay empty
-- (e.g. the South Pacific around 130°W 45°S has no data at all).
CREATE TABLE demo.land (
    id integer PRIMARY KEY,
    name text NOT NULL,
    w double precision NOT NULL, s double precision NOT NULL,
    e double precision NOT NULL, n double precision NOT NULL,
    geom geometry(Polygon, 3857) NOT NULL
);
INSERT INTO demo.land (id, name, w, s, e, n, geom)
SELECT id, name, w, s, e, n, ST_Transform(ST_MakeEnvelope(w, s, e, n, 4326), 3857)
FROM (VALUES
    (1, 'North America', -128, 25, -55, 60),
    (2, 'Central America', -110, 8, -75, 25),
    (3, 'South America', -82, -55, -34, 12),
    (4, 'Europe', -10, 36, 40, 62),
    (5, 'Africa', -18, -35, 51, 36),
    (6, 'Asia', 40, 5, 145, 62),
    (7, 'Maritime Asia', 95, -10, 141, 5),
    (8, 'Australia', 113, -39, 154, -11),
    (9, 'New Zealand', 166, -47, 179, -34)
) AS v(id, name, w, s, e, n);

-- Cities: real ones first (ids 1..), then satellites.
CREATE TABLE demo.cities (
    id integer PRIMARY KEY,
    name text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    pop_k integer NOT NULL, -- population in thousands
    geom geometry(Point, 3857) NOT NULL
);

INSERT INTO demo.cities (id, name, lon, lat, pop_k, geom)
SELECT row_number() OVER (), name, lon, lat, pop_k,
       ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857)
FROM (VALUES
    ('Tokyo', 139.69, 35.69, 37400), ('Delhi', 77.21, 28.61, 31000),
    ('Shanghai', 121.47, 31.23, 27000), ('São Paulo', -46.63, -23.55, 22000),
    ('Mexico City', -99.13, 19.43, 21800), ('Cairo', 31.24, 30.04, 21000),
    ('Mumbai', 72.88, 19.08, 20400), ('Beijing', 116.40, 39.90, 20400),
    ('Dhaka', 90.41, 23.81, 21000), ('Osaka', 135.50, 34.69, 19100),
    ('New York', -74.01, 40.71, 18800), ('Karachi', 67.01, 24.86, 16000),
    ('Buenos Aires', -58.38, -34.60, 15200), ('Chongqing', 106.55, 29.56, 15800),
    ('Istanbul', 28.98, 41.01, 15400), ('Kolkata', 88.36, 22.57, 14900),
    ('Manila', 120.98, 14.60, 13900), ('Lagos', 3.38, 6.52, 14300),
    ('Rio de Janeiro', -43.17, -22.91, 13400), ('Tianjin', 117.20, 39.13, 13500),
    ('Kinshasa', 15.27, -4.44, 14300), ('Guangzhou', 113.26, 23.13, 13300),
    ('Los Angeles', -118.24, 34.05, 12400), ('Moscow', 37.62, 55.76, 12500),
    ('Shenzhen', 114.06, 22.54, 12400), ('Lahore', 74.36, 31.55, 12600),
    ('Bangalore', 77.59, 12.97, 12300), ('Paris', 2.35, 48.86, 11000),
    ('Bogotá', -74.07, 4.71, 10900), ('Jakarta', 106.85, -6.21, 10600),
    ('Chennai', 80.27, 13.08, 10900), ('Lima', -77.04, -12.05, 10700),
    ('Bangkok', 100.50, 13.76, 10500), ('Seoul', 126.98, 37.57, 9960),
    ('Nagoya', 136.91, 35.18, 9500), ('Hyderabad', 78.49, 17.39, 10000),
    ('London', -0.13, 51.51, 9300), ('Tehran', 51.39, 35.69, 9100),
    ('Chicago', -87.63, 41.88, 8900), ('Chengdu', 104.07, 30.57, 9100),
    ('Nanjing', 118.80, 32.06, 8800), ('Wuhan', 114.31, 30.59, 8400),
    ('Ho Chi Minh City', 106.63, 10.82, 8600), ('Luanda', 13.23, -8.84, 8300),
    ('Ahmedabad', 72.57, 23.02, 8000), ('Kuala Lumpur', 101.69, 3.14, 7800),
    ('Xi''an', 108.94, 34.34, 7400), ('Hong Kong', 114.17, 22.32, 7500),
    ('Hangzhou', 120.16, 30.27, 7200), ('Shenyang', 123.43, 41.81, 6900),
    ('Riyadh', 46.68, 24.71, 7200), ('Baghdad', 44.36, 33.31, 7100),
    ('Santiago', -70.67, -33.45, 6800), ('Surat', 72.83, 21.17, 7200),
    ('Madrid', -3.70, 40.42, 6600), ('Suzhou', 120.62, 31.30, 6300),
    ('Pune', 73.86, 18.52, 6600), ('Harbin', 126.53, 45.80, 6400),
    ('Houston', -95.37, 29.76, 6300), ('Dallas', -96.80, 32.78, 6400),
    ('Toronto', -79.38, 43.65, 6200), ('Dar es Salaam', 39.28, -6.79, 6700),
    ('Miami', -80.19, 25.76, 6100), ('Belo Horizonte', -43.94, -19.92, 6100),
    ('Singapore', 103.82, 1.35, 5900), ('Philadelphia', -75.17, 39.95, 5700),
    ('Atlanta', -84.39, 33.75, 5900), ('Fukuoka', 130.40, 33.59, 5500),
    ('Khartoum', 32.53, 15.50, 5800), ('Barcelona', 2.17, 41.39, 5600),
    ('Johannesburg', 28.05, -26.20, 6000), ('Saint Petersburg', 30.34, 59.93, 5500),
    ('Qingdao', 120.38, 36.07, 5600), ('Dalian', 121.61, 38.91, 5600),
    ('Washington', -77.04, 38.91, 5300), ('Yangon', 96.20, 16.87, 5400),
    ('Alexandria', 29.92, 31.20, 5400), ('Jinan', 117.00, 36.65, 5000),
    ('Guadalajara', -103.35, 20.66, 5200), ('Abidjan', -4.01, 5.36, 5200),
    ('Nairobi', 36.82, -1.29, 4900), ('Ankara', 32.86, 39.93, 5200),
    ('Sydney', 151.21, -33.87, 5300), ('Melbourne', 144.96, -37.81, 5100),
    ('Monterrey', -100.32, 25.69, 5000), ('Cape Town', 18.42, -33.92, 4700),
    ('Berlin', 13.40, 52.52, 4600), ('Boston', -71.06, 42.36, 4900),
    ('Phoenix', -112.07, 33.45, 4700), ('San Francisco', -122.42, 37.77, 4700),
    ('Addis Ababa', 38.75, 9.03, 5000), ('Casablanca', -7.59, 33.57, 3800),
    ('Rome', 12.50, 41.90, 4300), ('Montreal', -73.57, 45.50, 4300),
    ('Seattle', -122.33, 47.61, 4000), ('Kabul', 69.17, 34.53, 4400),
    ('Accra', -0.19, 5.60, 2600), ('Hanoi', 105.85, 21.03, 5000),
    ('Milan', 9.19, 45.46, 3150), ('Athens', 23.73, 37.98, 3150),
    ('Lisbon', -9.14, 38.72, 2900), ('Vienna', 16.37, 48.21, 1950),
    ('Warsaw', 21.01, 52.23, 1800), ('Budapest', 19.04, 47.50, 1750),
    ('Kyiv', 30.52, 50.45, 2950), ('Stockholm', 18.07, 59.33, 1650),
    ('Amsterdam', 4.90, 52.37, 1150), ('Brussels', 4.35, 50.85, 2100),
    ('Munich', 11.58, 48.14, 1500), ('Hamburg', 9.99, 53.55, 1800),
    ('Prague', 14.42, 50.08, 1300), ('Copenhagen', 12.57, 55.68, 1350),
    ('Dublin', -6.26, 53.35, 1250), ('Oslo', 10.75, 59.91, 1050),
    ('Zurich', 8.54, 47.38, 1400), ('Lyon', 4.84, 45.76, 1700),
    ('Marseille', 5.37, 43.30, 1600), ('Manchester', -2.24, 53.48, 2800),
    ('Birmingham', -1.89, 52.49, 2600), ('Denver', -104.99, 39.74, 2900),
    ('Vancouver', -123.12, 49.28, 2600), ('Minneapolis', -93.27, 44.98, 2900),
    ('Caracas', -66.90, 10.48, 2900), ('Quito', -78.47, -0.18, 2000),
    ('Havana', -82.37, 23.11, 2100), ('Brasília', -47.88, -15.79, 4800),
    ('Auckland', 174.76, -36.85, 1700), ('Perth', 115.86, -31.95, 2100),
    ('Brisbane', 153.03, -27.47, 2500), ('Dakar', -17.47, 14.72, 3300),
    ('Algiers', 3.06, 36.75, 2900), ('Tunis', 10.18, 36.81, 2400),
    ('Tashkent', 69.24, 41.30, 2600), ('Almaty', 76.89, 43.24, 2000),
    ('Novosibirsk', 82.92, 55.03, 1600), ('Yekaterinburg', 60.60, 56.84, 1500),
    ('Dubai', 55.27, 25.20, 3500), ('Jeddah', 39.19, 21.49, 4700),
    ('Tel Aviv', 34.78, 32.09, 4200), ('Amman', 35.93, 31.95, 2200),
    ('Colombo', 79.86, 6.93, 2300), ('Kathmandu', 85.32, 27.72, 1500),
    ('Taipei', 121.56, 25.03, 7000), ('Busan', 129.08, 35.18, 3400),
    ('Sapporo', 141.35, 43.06, 2600), ('Ulaanbaatar', 106.91, 47.92, 1600),
    ('Adelaide', 138.60, -34.93, 1400)
) AS v(name, lon, lat, pop_k);

-- Satellite towns: for each of the first 80 cities, up to 3 candidates 80..400 km away; the
-- first candidate on land is kept, up to 200 cities in all.
INSERT INTO demo.cities (id, name, lon, lat, pop_k, geom)
SELECT (SELECT max(id) FROM demo.cities) + row_number() OVER (ORDER BY parent, cand),
       name, lon, lat, pop_k, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857)
FROM (
    SELECT DISTINCT ON (c.id) c.id AS parent, k.cand,
           demo.name(c.id * 10 + k.cand, 100) AS name, p.lon, p.lat,
           (200 + floor(demo.rnd(c.id * 10 + k.cand, 103) * 1300))::int AS pop_k
    FROM demo.cities c
    CROSS JOIN generate_series(1, 3) AS k(cand)
    CROSS JOIN LATERAL (SELECT 80 + 320 * demo.rnd(c.id * 10 + k.cand, 101) AS dist_km,
                               2 * pi() * demo.rnd(c.id * 10 + k.cand, 102) AS ang) d
    CROSS JOIN LATERAL (SELECT c.lon + d.dist_km * cos(d.ang) / (111.32 * cos(radians(c.lat))) AS lon,
                               c.lat + d.dist_km * sin(d.ang) / 110.57 AS lat) p
    WHERE c.id <= 80
      AND EXISTS (SELECT 1 FROM demo.land l
                  WHERE p.lon BETWEEN l.w AND l.e AND p.lat BETWEEN l.s AND l.n)
    ORDER BY c.id, k.cand
) s
ORDER BY parent
LIMIT 200 - (SELECT count(*) FROM demo.cities);

-- Per-city derived sizes: spread of its places (ground metres) and the mercator scale
-- factor at its latitude (ground metres × 1/cos(lat) = EPSG:3857 metres).
CREATE TEMP TABLE city_params AS
SELECT c.*, ST_X(c.geom) AS cx, ST_Y(c.geom) AS cy,
       1500 + 1200 * sqrt(c.pop_k / 1000.0) AS sigma,
       1 / cos(radians(c.lat)) AS k,
       CASE WHEN c.pop_k >= 15000 THEN 0 WHEN c.pop_k >= 8000 THEN 2 WHEN c.pop_k >= 4000 THEN 3
            WHEN c.pop_k >= 2000 THEN 4 WHEN c.pop_k >= 1000 THEN 5 ELSE 6 END AS minzoom,
       round(300000 * :scale * power(c.pop_k, 0.8)
             / sum(power(c.pop_k, 0.8)) OVER ())::int AS npoints
FROM demo.cities c;

-- Places.
CREATE TABLE demo.points (
    id integer PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    population integer NOT NULL,
    minzoom integer NOT NULL,
    geom geometry(Point, 3857) NOT NULL
);

INSERT INTO demo.points (id, name, kind, population, minzoom, geom)
SELECT id, name, 'city', pop_k * 1000, minzoom, geom FROM city_params;

INSERT INTO demo.points (id, name, kind, population, minzoom, geom)
SELECT 1000 + row_number() OVER (ORDER BY p.cid, p.g),
       CASE WHEN p.kind IN ('town', 'village', 'hamlet') THEN p.pname
            ELSE initcap(p.kind) || ' ' || p.pname END,
       p.kind, p.population,
       CASE p.kind WHEN 'town' THEN CASE WHEN p.population >= 50000 THEN 7 ELSE 8 END
                   WHEN 'village' THEN 10 WHEN 'hamlet' THEN 12 ELSE 13 END,
       ST_SetSRID(ST_MakePoint(p.cx + p.r * cos(p.theta) * p.k,
                               p.cy + p.r * sin(p.theta) * p.k), 3857)
FROM (
    SELECT c.id AS cid, g, c.cx, c.cy, c.k,
           demo.name(key, 5) AS pname,
           CASE WHEN u < 0.02 THEN 'town' WHEN u < 0.20 THEN 'village' WHEN u < 0.50 THEN 'hamlet'
                ELSE (ARRAY['cafe','school','pharmacy','bakery','station','library','museum',
                            'market'])[1 + floor(demo.rnd(key, 6) * 8)::int] END AS kind,
           CASE WHEN u < 0.02 THEN 5000 + floor(95000 * demo.rnd(key, 7) ^ 2)
                WHEN u < 0.20 THEN 200 + floor(4800 * demo.rnd(key, 7))
                WHEN u < 0.50 THEN 10 + floor(190 * demo.rnd(key, 7))
                ELSE 0 END::int AS population,
           c.sigma * CASE WHEN demo.rnd(key, 2) < 0.25 THEN 5 ELSE 1 END
               * sqrt(-2 * ln(1 - demo.rnd(key, 3))) AS r,
           2 * pi() * demo.rnd(key, 4) AS theta
    FROM city_params c
    CROSS JOIN LATERAL generate_series(1, c.npoints) AS g
    CROSS JOIN LATERAL (SELECT c.id::bigint * 1000000 + g AS key) kk
    CROSS JOIN LATERAL (SELECT demo.rnd(key, 1) AS u) uu
) p;

-- Roads.
CREATE TABLE demo.roads (
    id integer PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    minzoom integer NOT NULL,
    geom geometry(LineString, 3857) NOT NULL
);

-- Between each city and its 3 nearest neighbours (within 1500 km): a gently curving road
-- of 33 vertices.
INSERT INTO demo.roads (id, name, kind, minzoom, geom)
SELECT row_number() OVER (ORDER BY a, b),
       CASE WHEN major THEN 'M' ELSE 'T' END || (a * 1000 + b),
       CASE WHEN major THEN 'motorway' ELSE 'trunk' END,
       CASE WHEN major THEN 0 ELSE 4 END,
       (SELECT ST_MakeLine(ST_SetSRID(ST_MakePoint(
                   ax + (bx - ax) * t / 32.0 - (by - ay) * bend * sin(pi() * t / 32.0),
                   ay + (by - ay) * t / 32.0 + (bx - ax) * bend * sin(pi() * t / 32.0)), 3857)
                   ORDER BY t)
        FROM generate_series(0, 32) AS t)
FROM (
    SELECT DISTINCT least(c.id, n.id) AS a, greatest(c.id, n.id) AS b
    FROM demo.cities c
    CROSS JOIN LATERAL (SELECT o.id, o.lon, o.lat FROM demo.cities o WHERE o.id <> c.id
                        ORDER BY o.geom <-> c.geom LIMIT 3) n
    WHERE ST_DistanceSphere(ST_MakePoint(c.lon, c.lat), ST_MakePoint(n.lon, n.lat)) < 1500000
) pairs
JOIN LATERAL (SELECT ST_X(ca.geom) AS ax, ST_Y(ca.geom) AS ay, ST_X(cb.geom) AS bx,
                     ST_Y(cb.geom) AS by, (demo.rnd(pairs.a * 1000 + pairs.b, 20) - 0.5) * 0.16 AS bend,
                     ca.pop_k >= 3000 AND cb.pop_k >= 3000 AS major
              FROM demo.cities ca, demo.cities cb WHERE ca.id = pairs.a AND cb.id = pairs.b) e ON true;

-- A street grid around each city, rotated by a per-city angle: lines every 300 m over
-- ±1.5 sigma, every fifth one a primary avenue.
INSERT INTO demo.roads (id, name, kind, minzoom, geom)
SELECT 100000 + row_number() OVER (ORDER BY c.id, dir, i),
       CASE WHEN dir = 0 THEN c.name || ' ' || CASE WHEN i % 5 = 0 THEN 'Avenue ' ELSE 'Street ' END || (i + m)
            ELSE demo.name(c.id * 1000 + i + m, 30) || CASE WHEN i % 5 = 0 THEN ' Boulevard' ELSE ' Road' END END,
       CASE WHEN i % 5 = 0 THEN 'primary' ELSE 'residential' END,
       CASE WHEN i % 5 = 0 THEN 9 ELSE 12 END,
       ST_SetSRID(ST_MakeLine(
           ST_MakePoint(c.cx + c.k * (u0 * ca - v0 * sa), c.cy + c.k * (u0 * sa + v0 * ca)),
           ST_MakePoint(c.cx + c.k * (u1 * ca - v1 * sa), c.cy + c.k * (u1 * sa + v1 * ca))), 3857)
FROM city_params c
CROSS JOIN LATERAL (SELECT 1.5 * c.sigma AS half, floor(1.5 * c.sigma / 300)::int AS m,
                           cos(demo.rnd(c.id, 9) * pi() / 2) AS ca,
                           sin(demo.rnd(c.id, 9) * pi() / 2) AS sa) gp
CROSS JOIN generate_series(0, 1) AS dir
CROSS JOIN LATERAL generate_series(-gp.m, gp.m) AS i
CROSS JOIN LATERAL (SELECT CASE WHEN dir = 0 THEN -gp.half ELSE i * 300.0 END AS u0,
                           CASE WHEN dir = 0 THEN i * 300.0 ELSE -gp.half END AS v0,
                           CASE WHEN dir = 0 THEN gp.half ELSE i * 300.0 END AS u1,
                           CASE WHEN dir = 0 THEN i * 300.0 ELSE gp.half END AS v1) ends;

-- Areas.
CREATE TABLE demo.areas (
    id integer PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    minzoom integer NOT NULL,
    geom geometry(MultiPolygon, 3857) NOT NULL
);

-- Countries: Voronoi cells of every fourth city, cut to the land boxes.
INSERT INTO demo.areas (id, name, kind, minzoom, geom)
SELECT row_number() OVER (ORDER BY c.id),
       demo.name(c.id, 40) || (ARRAY['ia','land','stan',' Republic'])[1 + floor(demo.rnd(c.id, 41) * 4)::int],
       'country', 0,
       ST_Multi(ST_CollectionExtract(ST_Intersection(cell.geom, land.geom), 3))
FROM (SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(geom), 0,
                                          ST_MakeEnvelope(-20037508, -20037508, 20037508, 20037508, 3857)))).geom
      FROM demo.cities WHERE id % 4 = 1) cell
JOIN demo.cities c ON c.id % 4 = 1 AND ST_Intersects(cell.geom, c.geom)
CROSS JOIN (SELECT ST_Union(geom) AS geom FROM demo.land) land
WHERE ST_Intersects(cell.geom, land.geom);

-- Urban areas: a disc of 2 sigma around each city.
INSERT INTO demo.areas (id, name, kind, minzoom, geom)
SELECT 1000 + c.id, c.name, 'urban', least(c.minzoom + 2, 8),
       ST_Multi(ST_SetSRID(ST_Buffer(c.geom, 2 * c.sigma * c.k, 16), 3857))
FROM city_params c;

-- Districts: 6..10 wedges of the urban disc.
INSERT INTO demo.areas (id, name, kind, minzoom, geom)
SELECT 10000 + row_number() OVER (ORDER BY c.id, w), demo.name(c.id * 100 + w, 50), 'district', 10,
       (SELECT ST_Multi(ST_MakePolygon(ST_MakeLine(pt ORDER BY o)))
        FROM (SELECT 0 AS o, c.geom AS pt
              UNION ALL
              SELECT 1 + s, ST_SetSRID(ST_MakePoint(
                         c.cx + 2 * c.sigma * c.k * cos(a0 + (a1 - a0) * s / 8.0),
                         c.cy + 2 * c.sigma * c.k * sin(a0 + (a1 - a0) * s / 8.0)), 3857)
              FROM generate_series(0, 8) AS s
              UNION ALL
              SELECT 100, c.geom) ring)
FROM city_params c
CROSS JOIN LATERAL (SELECT 6 + floor(demo.rnd(c.id, 51) * 5)::int AS n,
                           2 * pi() * demo.rnd(c.id, 52) AS start) d
CROSS JOIN LATERAL generate_series(0, d.n - 1) AS w
CROSS JOIN LATERAL (SELECT d.start + 2 * pi() * w / d.n AS a0,
                           d.start + 2 * pi() * (w + 1) / d.n AS a1) ang;

-- Parks: small squares near the centre, 10 + pop/500 per city.
INSERT INTO demo.areas (id, name, kind, minzoom, geom)
SELECT 100000 + row_number() OVER (ORDER BY c.id, p), demo.name(c.id * 1000 + p, 60) || ' Park',
       'park', 11,
       ST_Multi(ST_MakeEnvelope(x - s, y - s, x + s, y + s, 3857))
FROM city_params c
CROSS JOIN LATERAL generate_series(1, 10 + c.pop_k / 500) AS p
CROSS JOIN LATERAL (SELECT c.id::bigint * 1000 + p AS key) kk
CROSS JOIN LATERAL (SELECT c.sigma * sqrt(-2 * ln(1 - demo.rnd(key, 61))) AS r,
                           2 * pi() * demo.rnd(key, 62) AS theta,
                           (75 + 225 * demo.rnd(key, 63)) * c.k AS s) pp
CROSS JOIN LATERAL (SELECT c.cx + pp.r * c.k * cos(pp.theta) AS x,
                           c.cy + pp.r * c.k * sin(pp.theta) AS y) xy;

CREATE INDEX cities_geom_idx ON demo.cities USING gist (geom);
CREATE INDEX points_geom_idx ON demo.points USING gist (geom);
CREATE INDEX roads_geom_idx ON demo.roads USING gist (geom);
CREATE INDEX areas_geom_idx ON demo.areas USING gist (geom);
CREATE INDEX land_geom_idx ON demo.land USING gist (geom);

COMMIT;

ANALYZE demo.cities;
ANALYZE demo.points;
ANALYZE demo.roads;
ANALYZE demo.areas;
ANALYZE demo.land;
