//! The raw material of the demo: names, places, equipment, problems and parts.

/// Service regions with the coordinates of their main city.
pub const REGIONS: &[(&str, f64, f64)] = &[
    ("north", 53.551, 9.993),
    ("south", 48.137, 11.575),
    ("east", 52.520, 13.405),
    ("west", 51.227, 6.773),
    ("central", 50.110, 8.682),
];

pub const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannes", "Ines", "Jonas", "Karla",
    "Luca", "Mara", "Niklas", "Olga", "Paul", "Rosa", "Samir", "Tanja", "Umut", "Vera", "Wim",
    "Yara", "Zoe", "Malte", "Lena", "Tobias", "Nora",
];

pub const LAST_NAMES: &[&str] = &[
    "Albers", "Brandt", "Celik", "Dietrich", "Engel", "Fischer", "Graf", "Hoffmann", "Iversen",
    "Jansen", "Kaya", "Lorenz", "Meyer", "Nowak", "Ott", "Peters", "Quast", "Richter", "Schulz",
    "Thiel", "Ulrich", "Vogel", "Weber", "Yilmaz", "Zimmer",
];

/// Customer name parts: a word and a kind of business.
pub const BUSINESS_WORDS: &[&str] = &[
    "Harbor",
    "Linden",
    "Nordlicht",
    "Elbe",
    "Alpen",
    "Rhein",
    "Sonnen",
    "Kastanie",
    "Mühlen",
    "Spree",
    "Isar",
    "Main",
    "Birken",
    "Hafen",
    "Tannen",
    "Leuchtturm",
    "Brücken",
    "Garten",
    "Stern",
    "Eichen",
];
pub const BUSINESS_KINDS: &[&str] = &[
    "Bakery",
    "Hotel",
    "Clinic",
    "Brewery",
    "Supermarket",
    "Dental Practice",
    "Laundry",
    "Restaurant",
    "Fitness Club",
    "Print Shop",
    "Pharmacy",
    "Dairy",
    "Cinema",
    "Office Park",
];

pub const STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Schillerstraße",
    "Lindenallee",
    "Kirchplatz",
    "Am Markt",
    "Hafenstraße",
    "Industriestraße",
    "Ringstraße",
    "Mühlenweg",
    "Parkstraße",
];

/// Equipment the company services, by problem category of the typical call.
pub const ASSETS: &[(&str, &str)] = &[
    ("hardware", "Combi oven CX-200"),
    ("hardware", "Refrigerated display RD-90"),
    ("hardware", "Dishwasher Hood HX-5"),
    ("hardware", "Espresso machine Duo 3G"),
    ("hardware", "Walk-in chiller WC-12"),
    ("hardware", "Heat pump HP-14"),
    ("software", "Kitchen display system KDS 4"),
    ("software", "Oven controller firmware OC-2"),
    ("software", "Cold-chain monitor CCM Cloud"),
    ("installation", "Combi oven CX-200"),
    ("installation", "Ice machine IM-40"),
    ("installation", "Ventilation unit VU-8"),
    ("consultation", "Walk-in chiller WC-12"),
    ("consultation", "Heat pump HP-14"),
    ("service_complaint", "Espresso machine Duo 3G"),
    ("service_complaint", "Dishwasher Hood HX-5"),
];

/// What customers say when they call, by problem category.
pub const PROBLEMS: &[(&str, &str)] = &[
    (
        "hardware",
        "Unit does not heat up; error E-17 on the display",
    ),
    (
        "hardware",
        "Loud grinding noise from the compressor since this morning",
    ),
    ("hardware", "Water leaking under the machine, floor is wet"),
    (
        "hardware",
        "Door seal torn, temperature does not hold below 8 °C",
    ),
    (
        "hardware",
        "Machine trips the breaker a few minutes after start",
    ),
    (
        "hardware",
        "Pump runs but no water pressure at the group head",
    ),
    ("software", "Display freezes after the nightly update"),
    ("software", "Orders do not reach the kitchen screen"),
    (
        "software",
        "Temperature alarms are sent to the wrong phone number",
    ),
    (
        "software",
        "Controller shows firmware mismatch after power cut",
    ),
    (
        "installation",
        "New unit delivered, needs connection and commissioning",
    ),
    (
        "installation",
        "Relocate the machine to the new kitchen line",
    ),
    (
        "installation",
        "Install second unit and connect to the existing drain",
    ),
    (
        "consultation",
        "Energy use has doubled; customer wants advice",
    ),
    (
        "consultation",
        "Staff training on cleaning programme requested",
    ),
    (
        "service_complaint",
        "Technician did not show up for the last appointment",
    ),
    (
        "service_complaint",
        "Same fault again two weeks after the last repair",
    ),
];

pub const DIAGNOSES: &[&str] = &[
    "Heating element open circuit",
    "Compressor start capacitor failed",
    "Drain hose cracked at the clamp",
    "Door gasket worn through",
    "Control board relay stuck closed",
    "Pressure switch out of calibration",
    "Scale build-up in the boiler",
    "Firmware update interrupted, controller in recovery mode",
    "Network switch port disabled",
    "Fan motor bearings worn",
];

pub const REPAIR_ACTIONS: &[&str] = &[
    "Replaced the part and ran a full test cycle",
    "Cleaned, descaled and re-sealed; test run OK",
    "Reflashed the firmware and restored the settings",
    "Recalibrated and tightened all connections",
    "Replaced the worn parts and checked the wiring",
];

pub const RESOLUTIONS: &[&str] = &[
    "Fault fixed, unit back in service",
    "Repaired and tested with the customer present",
    "Part replaced; customer informed about maintenance interval",
    "Installed and commissioned, staff briefed",
    "Advice given and settings optimised",
];

/// Measurement name, unit, typical value and spread.
pub const MEASUREMENTS: &[(&str, &str, f64, f64)] = &[
    ("temperature", "°C", 4.0, 3.0),
    ("pressure", "bar", 9.0, 1.5),
    ("current", "A", 12.0, 4.0),
    ("voltage", "V", 230.0, 6.0),
];

/// The parts catalogue: number, name, category, price in cents, safety stock.
pub const PARTS: &[(&str, &str, &str, i64, i64)] = &[
    ("HEAT-2000", "Heating element 2 kW", "heating", 8_900, 6),
    ("HEAT-3500", "Heating element 3.5 kW", "heating", 12_900, 4),
    (
        "THERM-01",
        "Thermostat, adjustable 30–300 °C",
        "heating",
        4_500,
        8,
    ),
    (
        "TSENS-PT100",
        "Temperature sensor PT100",
        "sensors",
        2_900,
        12,
    ),
    ("PSENS-16", "Pressure sensor 0–16 bar", "sensors", 6_400, 6),
    ("PSW-12", "Pressure switch 1.2 bar", "sensors", 3_800, 6),
    ("COMP-R290", "Compressor R290 1/2 HP", "cooling", 38_000, 2),
    ("CAP-35", "Start capacitor 35 µF", "cooling", 1_900, 15),
    ("FAN-EC120", "EC fan motor 120 mm", "cooling", 7_400, 5),
    ("GASKET-RD90", "Door gasket RD-90", "seals", 3_200, 10),
    (
        "GASKET-WC12",
        "Door gasket walk-in WC-12",
        "seals",
        5_600,
        4,
    ),
    ("SEAL-KIT-3G", "Group head seal kit", "seals", 1_500, 20),
    ("PUMP-V200", "Vibration pump 200 W", "hydraulics", 6_900, 5),
    ("PUMP-DRAIN", "Drain pump 30 W", "hydraulics", 4_900, 6),
    ("VALVE-SOL", "Solenoid valve 3/8\"", "hydraulics", 3_600, 10),
    ("HOSE-DRAIN", "Drain hose 2 m", "hydraulics", 900, 25),
    (
        "FILTER-WATER",
        "Water filter cartridge",
        "consumables",
        2_400,
        30,
    ),
    (
        "DESCALER-5L",
        "Descaling agent 5 l",
        "consumables",
        1_800,
        20,
    ),
    (
        "FUSE-10A",
        "Fuse 10 A slow-blow (pack of 10)",
        "electrical",
        700,
        40,
    ),
    ("RELAY-16A", "Power relay 16 A", "electrical", 1_600, 15),
    (
        "BOARD-OC2",
        "Oven controller board OC-2",
        "electronics",
        24_500,
        2,
    ),
    (
        "BOARD-KDS4",
        "KDS 4 display controller",
        "electronics",
        31_000,
        2,
    ),
    ("PSU-24V", "Power supply 24 V 60 W", "electronics", 5_200, 6),
    ("TOUCH-7", "Touch panel 7\"", "electronics", 18_900, 3),
    ("MOTOR-WASH", "Wash arm motor HX-5", "motors", 15_800, 3),
    ("BEARING-6203", "Ball bearing 6203-2RS", "motors", 800, 30),
    ("BELT-V13", "V-belt 13 mm", "motors", 1_100, 12),
    ("ICE-AUGER", "Ice machine auger IM-40", "cooling", 21_000, 2),
    (
        "VENT-FILTER",
        "Grease filter VU-8",
        "consumables",
        3_900,
        16,
    ),
    (
        "CABLE-5G2",
        "Power cable 5G2.5, 5 m",
        "electrical",
        2_700,
        10,
    ),
];

/// Vans and warehouses parts come from.
pub const STOCK_LOCATIONS: &[&str] = &[
    "WH-NORTH",
    "WH-SOUTH",
    "WH-CENTRAL",
    "VAN-01",
    "VAN-02",
    "VAN-03",
    "VAN-04",
    "VAN-05",
    "VAN-06",
    "VAN-07",
    "VAN-08",
];
