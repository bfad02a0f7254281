"""The service catalogue at launch: three services open, two listed but not yet open."""

from django.db import migrations

SERVICES = [
    {
        "slug": "sehat-card",
        "position": 1,
        "icon": "hospital",
        "channel": "counter",
        "enabled": True,
        "department": "Health Department (Sehat Card Plus)",
        "department_ur": "محکمۂ صحت (صحت کارڈ پلس)",
        "department_ps": "د روغتیا څانګه (صحت کارډ پلس)",
        "name_en": "Sehat Card health insurance at the hospital",
        "name_ur": "ہسپتال میں صحت کارڈ کی سہولت",
        "name_ps": "په روغتون کې د صحت کارډ اسانتیا",
        "description_en": "The hospital's admission desk checks that you are covered by the Sehat Card and admits you without forms.",
        "description_ur": "ہسپتال کا داخلہ کاؤنٹر دیکھتا ہے کہ آپ صحت کارڈ میں شامل ہیں اور بغیر فارم کے آپ کو داخل کرتا ہے۔",
        "description_ps": "د روغتون د داخلې کاونټر ګوري چې تاسو د صحت کارډ لاندې یاست، او بې له فورمه مو داخلوي.",
        "scopes": ["identity.name", "identity.birth", "identity.guardian", "identity.photo"],
        "outcomes": ["admitted", "outpatient", "referred", "not_covered"],
    },
    {
        "slug": "school-enrolment",
        "position": 2,
        "icon": "school",
        "channel": "counter",
        "enabled": True,
        "department": "Elementary and Secondary Education Department",
        "department_ur": "محکمۂ ابتدائی و ثانوی تعلیم",
        "department_ps": "د لومړنۍ او منځنۍ زده کړې څانګه",
        "name_en": "School enrolment",
        "name_ur": "اسکول میں داخلہ",
        "name_ps": "په ښوونځي کې داخله",
        "description_en": "The school office enrols a child with the parent's consent: name, date of birth, father's name and address, without copies of papers.",
        "description_ur": "اسکول کا دفتر والدین کی اجازت سے بچے کا داخلہ کرتا ہے: نام، تاریخِ پیدائش، والد کا نام اور پتہ، کاغذات کی نقل کے بغیر۔",
        "description_ps": "د ښوونځي دفتر د مور او پلار په اجازه ماشوم داخلوي: نوم، د زېږون نېټه، د پلار نوم او پته، د کاغذونو له کاپي پرته.",
        "scopes": ["identity.name", "identity.birth", "identity.guardian", "identity.address", "identity.mobile"],
        "outcomes": ["enrolled", "waiting_list", "documents_missing"],
    },
    {
        "slug": "excise-tax",
        "position": 3,
        "icon": "cash",
        "channel": "counter",
        "enabled": True,
        "department": "Excise, Taxation and Narcotics Control Department",
        "department_ur": "محکمۂ ایکسائز، ٹیکسیشن و انسدادِ منشیات",
        "department_ps": "د اېکسایز، مالیې او نشه يي توکو د مخنیوي څانګه",
        "name_en": "Vehicle and property tax lookup",
        "name_ur": "گاڑی اور جائیداد کے ٹیکس کی معلومات",
        "name_ps": "د موټر او ملکیت د مالیې معلومات",
        "description_en": "The excise office finds the vehicles and property registered to you and what tax is due.",
        "description_ur": "ایکسائز دفتر آپ کے نام رجسٹر گاڑیاں اور جائیداد اور واجب ٹیکس دیکھتا ہے۔",
        "description_ps": "د اېکسایز دفتر ستاسو په نوم ثبت موټرونه او ملکیت او پاتې مالیه ګوري.",
        "scopes": ["identity.name", "identity.address", "identity.mobile"],
        "outcomes": ["tax_shown", "paid", "no_record"],
    },
    {
        "slug": "driving-licence",
        "position": 4,
        "icon": "key",
        "channel": "online",
        "enabled": False,
        "department": "Police: Traffic Licensing",
        "department_ur": "پولیس: ٹریفک لائسنسنگ",
        "department_ps": "پولیس: د ټرافیک جواز",
        "name_en": "Driving licence",
        "name_ur": "ڈرائیونگ لائسنس",
        "name_ps": "د موټر چلولو جواز",
        "description_en": "Apply for or renew a driving licence online. Coming soon.",
        "description_ur": "ڈرائیونگ لائسنس کے لیے آن لائن درخواست یا تجدید۔ جلد آ رہا ہے۔",
        "description_ps": "د موټر چلولو جواز لپاره آنلاین غوښتنه یا نوي کول. ډېر ژر.",
        "scopes": ["identity.name", "identity.birth", "identity.guardian", "identity.address", "identity.photo"],
        "outcomes": ["submitted"],
    },
    {
        "slug": "land-records",
        "position": 5,
        "icon": "book",
        "channel": "counter",
        "enabled": False,
        "department": "Board of Revenue: Land Records",
        "department_ur": "بورڈ آف ریونیو: لینڈ ریکارڈ",
        "department_ps": "د عوایدو بورډ: د ځمکې ریکارډ",
        "name_en": "Land records (fard)",
        "name_ur": "زمین کا ریکارڈ (فرد)",
        "name_ps": "د ځمکې ریکارډ (فرد)",
        "description_en": "Get a copy of your land record at the land records centre. Coming soon.",
        "description_ur": "لینڈ ریکارڈ سینٹر سے اپنی زمین کے ریکارڈ کی نقل لیں۔ جلد آ رہا ہے۔",
        "description_ps": "د ځمکې ریکارډ مرکز څخه د خپلې ځمکې د ریکارډ کاپي واخلئ. ډېر ژر.",
        "scopes": ["identity.name", "identity.guardian", "identity.address"],
        "outcomes": ["copy_issued"],
    },
]


def load(apps, schema_editor):
    Service = apps.get_model("gateway", "Service")
    for row in SERVICES:
        Service.objects.update_or_create(slug=row["slug"], defaults=row)


def unload(apps, schema_editor):
    apps.get_model("gateway", "Service").objects.filter(
        slug__in=[row["slug"] for row in SERVICES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
