"""Other languages: which language a message is in, the harm words of each language, and the fixed replies.

The sentences below were written by the project team (not native speakers; see each language file's review
notes). Every language has at least one harm sentence per harm id, everyday sentences that must never match
(greetings, homework, lunch, and traps such as a heartbeat or a haircut), and more natural sentences for
detection. `OTHER_SENTENCES` and the `ENGLISH` messages under "written after the rule was fixed" were measured once
as a held-out check (78/78 English, 75/75 other languages, 14/15 harm sentences found before the Turkish pattern
for "bana her gün vuruyor" was widened).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from bot import settings
from bot.safeguarding.language import (
    HARM_KINDS,
    NON_LATIN,
    REVIEW_DRAFT,
    SUPPORTED,
    UNDETERMINED,
    LanguageDataError,
    LanguagePacks,
    LanguageScreen,
    LanguageVerdict,
    LexiconMatcher,
    compile_pattern,
    fold,
    languages_dir,
    load_pack,
    script_of,
)

ROOT = settings.PROJECT_ROOT
NLU_DIR = ROOT / "data" / "nlu"
#: Entity annotations in Rasa training examples: "[teacher](role)", "[Year 7]{"entity": "year"}".
ENTITY = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


@pytest.fixture(scope="module")
def screen() -> LanguageScreen:
    return LanguageScreen().warm_up()


@pytest.fixture(scope="module")
def packs() -> LanguagePacks:
    return LanguagePacks.load()


# ------------------------------------------------------------------------------------------------- sentences

HARM: dict[str, dict[str, tuple[str, ...]]] = {
    "pl": {
        "hit": ("mój ojczym mnie bije i boję się wracać do domu", "tata bije mnie pasem", "ojciec mnie pobił wczoraj"),
        "hurt": ("mama mnie krzywdzi", "on mnie skrzywdził i nikt nie wie"),
        "sexual": ("wujek dotyka mnie w miejscach intymnych", "zgwałcił mnie na imprezie", "trener mnie molestuje"),
        "suicide": ("chcę się zabić", "nie chce mi się żyć", "chce umrzec, nie mam juz sily"),
        "self_harm": ("tnę się żyletką w pokoju", "robie sobie krzywde, tne sie"),
        "afraid_home": ("boje sie wracac do domu", "boję się iść do domu po szkole"),
        "weapon": ("brat grozi mi nożem", "on ma nóż i mówi że mnie dźgnie"),
        "death_threat": ("powiedział, że mnie zabije", "ojczym grozi, że mnie zabije"),
        "forced_marriage": ("rodzice chcą mnie zmusić do ślubu", "zmuszają mnie do małżeństwa z obcym mężczyzną"),
        "fgm": ("chcą mi zrobić obrzezanie w wakacje",),
        "no_food": ("w domu nie dają mi jeść", "nie dostaję jedzenia od dwóch dni"),
        "online_photos": (
            "jakiś facet w internecie chce moje nagie zdjęcia", "ktoś na snapie każe mi wysłać zdjęcia bez ubrania",
        ),
    },
    "es": {
        "hit": (
            "mi padrastro me pega y tengo miedo de volver a casa", "mi papá me pega con el cinturón",
            "mi madre me golpea",
        ),
        "hurt": ("mi tío me hace daño", "me lastima cuando está borracho"),
        "sexual": ("mi tío me toca donde no debe", "me violó un chico de la fiesta", "abusó de mí cuando era pequeña"),
        "suicide": ("quiero morirme", "me quiero suicidar", "ya no quiero vivir"),
        "self_harm": ("me corto los brazos por la noche", "me hago cortes en las piernas"),
        "afraid_home": ("tengo miedo de volver a casa", "me da miedo ir a casa hoy"),
        "weapon": ("me amenazó con un cuchillo", "mi hermano tiene una navaja y me amenaza"),
        "death_threat": ("dijo que me va a matar", "me amenazó de muerte"),
        "forced_marriage": ("mis padres me quieren obligar a casarme", "me van a casar a la fuerza en verano"),
        "fgm": ("me quieren hacer la ablación", "mi tía habló de mutilación genital para mí"),
        "no_food": ("no me dan de comer en casa", "llevo dos días sin comer porque no hay comida"),
        "online_photos": ("un hombre en internet me pide fotos desnuda", "quiere que le mande fotos sin ropa"),
    },
    "pt": {
        "hit": (
            "o meu padrasto bate-me e tenho medo de ir para casa", "meu pai me bate com o cinto",
            "ele me espancou ontem",
        ),
        "hurt": ("a minha mãe magoa-me", "ele me machucou de novo"),
        "sexual": ("o meu tio toca-me nas partes íntimas", "ele me estuprou", "abusou de mim quando eu era pequena"),
        "suicide": ("quero morrer", "quero me matar", "não quero mais viver"),
        "self_harm": ("eu me corto no braço", "corto-me todas as noites"),
        "afraid_home": ("tenho medo de voltar para casa", "tenho medo de ir pra casa hoje"),
        "weapon": ("ameaçou-me com uma faca", "o meu irmão tem uma faca e ameaça-me"),
        "death_threat": ("disse que me vai matar", "ele disse que vai me matar"),
        "forced_marriage": (
            "os meus pais querem obrigar-me a casar", "querem me forçar a casar com um homem mais velho",
        ),
        "fgm": ("querem fazer mutilação genital em mim", "querem fazer-me a excisão nas férias"),
        "no_food": ("não me dão comida em casa", "passo fome em casa, não há comida"),
        "online_photos": ("um homem na internet pede-me fotos nua", "ele quer que eu mande fotos sem roupa"),
    },
    "ro": {
        "hit": (
            "tatăl meu vitreg mă bate și mi-e frică să merg acasă", "tata ma bate cu cureaua",
            "m-a bătut ieri fratele meu",
        ),
        "hurt": ("mama mă rănește", "îmi face rău când e beat"),
        "sexual": ("unchiul meu mă atinge în locuri intime", "m-a violat", "a abuzat de mine"),
        "suicide": ("vreau să mor", "vreau sa ma sinucid", "nu mai vreau să trăiesc"),
        "self_harm": ("mă tai pe mâini", "ma tai cu lama noaptea"),
        "afraid_home": ("mi-e frică să merg acasă", "mi-e frica sa ma intorc acasa"),
        "weapon": ("m-a amenințat cu un cuțit", "are un cutit si ma ameninta"),
        "death_threat": ("a zis că mă omoară", "m-a amenințat că mă omoară"),
        "forced_marriage": ("părinții vor să mă mărite cu forța", "mă obligă să mă mărit cu un bărbat"),
        "fgm": ("vor să îmi facă mutilare genitală",),
        "no_food": ("nu îmi dau de mâncare acasă", "nu am primit mancare de doua zile"),
        "online_photos": ("un bărbat de pe internet îmi cere poze nud", "vrea să-i trimit poze fără haine"),
    },
    "ar": {
        "hit": ("زوج أمي يضربني وأخاف أن أرجع إلى البيت", "أبي يضربني كل يوم", "ضربني أخي بالحزام"),
        "hurt": ("أمي تؤذيني", "آذاني عمي"),
        "sexual": ("عمي يلمسني في أماكن خاصة", "اغتصبني", "تحرش بي رجل في الحديقة"),
        "suicide": ("أريد أن أموت", "أريد أن أقتل نفسي", "أفكر في الانتحار"),
        "self_harm": ("أجرح نفسي بالموس", "أؤذي نفسي كل ليلة"),
        "afraid_home": ("أخاف أن أرجع إلى البيت", "خائفة من الذهاب إلى البيت"),
        "weapon": ("هددني بسكين", "أخي معه سكين ويهددني"),
        "death_threat": ("قال إنه سيقتلني", "هددني بالقتل"),
        "forced_marriage": ("أهلي يريدون أن يزوجوني غصبا", "يجبرونني على الزواج"),
        "fgm": ("يريدون ختان البنات لي في الصيف", "خالتي تريد ختاني"),
        "no_food": ("لا يعطونني أكل في البيت", "لا يوجد طعام في البيت منذ يومين"),
        "online_photos": ("رجل على الإنترنت يطلب مني صور", "طلب صور عارية مني"),
    },
    "ur": {
        "hit": (
            "میرا سوتیلا باپ مجھے مارتا ہے اور مجھے گھر جانے سے ڈر لگتا ہے", "میرے ابو مجھے مارتے ہیں",
            "امی مجھے پیٹتی ہیں",
        ),
        "hurt": ("وہ مجھے تکلیف پہنچاتا ہے", "چچا نے مجھے زخمی کیا"),
        "sexual": ("چچا مجھے غلط جگہ چھوتے ہیں", "اس نے میرے ساتھ زیادتی کی", "میرے ساتھ جنسی زیادتی ہوئی"),
        "suicide": ("میں مرنا چاہتا ہوں", "میں خودکشی کرنا چاہتی ہوں", "میں اپنے آپ کو مار دوں گا"),
        "self_harm": ("میں خود کو کاٹتی ہوں", "میں اپنے آپ کو نقصان پہنچاتا ہوں"),
        "afraid_home": ("مجھے گھر جانے سے ڈر لگتا ہے", "گھر جاتے ہوئے ڈر لگتا ہے"),
        "weapon": ("اس نے مجھے چاقو سے دھمکی دی", "بھائی کے پاس چھری ہے اور وہ دھمکاتا ہے"),
        "death_threat": ("اس نے کہا وہ مجھے جان سے مار دے گا", "مجھے قتل کی دھمکی دی"),
        "forced_marriage": (
            "میرے گھر والے زبردستی میری شادی کروانا چاہتے ہیں", "مجھے زبردستی شادی کے لیے پاکستان لے جا رہے ہیں",
        ),
        "fgm": ("وہ میرا ختنہ کروانا چاہتے ہیں", "لڑکیوں کا ختنہ"),
        "no_food": ("مجھے کھانا نہیں دیتے", "گھر میں کھانا نہیں ہے"),
        "online_photos": ("انٹرنیٹ پر ایک آدمی مجھ سے تصویریں مانگ رہا ہے", "وہ ننگی تصویریں مانگتا ہے"),
    },
    "pa": {
        "hit": (
            "ਮੇਰਾ ਮਤਰੇਆ ਪਿਤਾ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ ਅਤੇ ਮੈਨੂੰ ਘਰ ਜਾਣ ਤੋਂ ਡਰ ਲੱਗਦਾ ਹੈ", "ਮੇਰੇ ਪਿਤਾ ਜੀ ਮੈਨੂੰ ਕੁੱਟਦੇ ਹਨ",
            "ਉਸਨੇ ਮੈਨੂੰ ਮਾਰਿਆ",
        ),
        "hurt": ("ਉਹ ਮੈਨੂੰ ਤਕਲੀਫ਼ ਦਿੰਦਾ ਹੈ", "ਚਾਚੇ ਨੇ ਮੈਨੂੰ ਜ਼ਖਮੀ ਕੀਤਾ"),
        "sexual": ("ਚਾਚਾ ਮੈਨੂੰ ਗਲਤ ਤਰੀਕੇ ਨਾਲ ਛੂਹਦਾ ਹੈ", "ਉਸਨੇ ਮੇਰਾ ਬਲਾਤਕਾਰ ਕੀਤਾ", "ਮੇਰਾ ਜਿਨਸੀ ਸ਼ੋਸ਼ਣ ਹੋਇਆ"),
        "suicide": ("ਮੈਂ ਮਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ", "ਮੈਂ ਖੁਦਕੁਸ਼ੀ ਕਰਨਾ ਚਾਹੁੰਦੀ ਹਾਂ"),
        "self_harm": ("ਮੈਂ ਆਪਣੇ ਆਪ ਨੂੰ ਕੱਟਦੀ ਹਾਂ", "ਮੈਂ ਆਪਣੇ ਆਪ ਨੂੰ ਨੁਕਸਾਨ ਪਹੁੰਚਾਉਂਦਾ ਹਾਂ"),
        "afraid_home": ("ਮੈਨੂੰ ਘਰ ਜਾਣ ਤੋਂ ਡਰ ਲੱਗਦਾ ਹੈ",),
        "weapon": ("ਉਸਨੇ ਮੈਨੂੰ ਚਾਕੂ ਨਾਲ ਧਮਕੀ ਦਿੱਤੀ", "ਉਸ ਕੋਲ ਚਾਕੂ ਹੈ"),
        "death_threat": ("ਉਸਨੇ ਕਿਹਾ ਕਿ ਉਹ ਮੈਨੂੰ ਜਾਨ ਤੋਂ ਮਾਰ ਦੇਵੇਗਾ", "ਮੈਨੂੰ ਮਾਰਨ ਦੀ ਧਮਕੀ ਦਿੱਤੀ"),
        "forced_marriage": ("ਮੇਰੇ ਮਾਪੇ ਜ਼ਬਰਦਸਤੀ ਮੇਰਾ ਵਿਆਹ ਕਰਨਾ ਚਾਹੁੰਦੇ ਹਨ", "ਇਹ ਜਬਰੀ ਵਿਆਹ ਹੈ"),
        "fgm": ("ਉਹ ਕੁੜੀਆਂ ਦੀ ਸੁੰਨਤ ਕਰਵਾਉਣਾ ਚਾਹੁੰਦੇ ਹਨ",),
        "no_food": ("ਮੈਨੂੰ ਖਾਣਾ ਨਹੀਂ ਦਿੰਦੇ", "ਘਰ ਵਿੱਚ ਖਾਣਾ ਨਹੀਂ ਹੈ"),
        "online_photos": ("ਇੰਟਰਨੈੱਟ 'ਤੇ ਇੱਕ ਆਦਮੀ ਮੇਰੇ ਤੋਂ ਫੋਟੋਆਂ ਮੰਗਦਾ ਹੈ", "ਉਹ ਨੰਗੀਆਂ ਫੋਟੋਆਂ ਮੰਗਦਾ ਹੈ"),
    },
    "bn": {
        "hit": ("আমার সৎ বাবা আমাকে মারে এবং আমি বাড়ি যেতে ভয় পাই", "আব্বু আমাকে মারধর করে", "ভাইয়া আমাকে মেরেছে"),
        "hurt": ("সে আমাকে আঘাত করেছে", "মামা আমাকে ব্যথা দেয়"),
        "sexual": ("চাচা আমাকে খারাপভাবে ছোঁয়", "সে আমাকে ধর্ষণ করেছে", "আমি যৌন নির্যাতনের শিকার"),
        "suicide": ("আমি মরে যেতে চাই", "আমি আত্মহত্যা করতে চাই"),
        "self_harm": ("আমি নিজেকে কাটি", "আমি নিজের ক্ষতি করি"),
        "afraid_home": ("আমি বাড়ি যেতে ভয় পাই", "বাসায় যেতে ভয় লাগে"),
        "weapon": ("সে ছুরি দিয়ে হুমকি দিয়েছে", "তার কাছে ছুরি আছে"),
        "death_threat": ("সে বলেছে আমাকে মেরে ফেলবে", "আমাকে খুন করার হুমকি দিয়েছে"),
        "forced_marriage": ("তারা জোর করে আমার বিয়ে দিতে চায়", "এটা জোরপূর্বক বিয়ে"),
        "fgm": ("তারা মেয়েদের খতনা করাতে চায়",),
        "no_food": ("আমাকে খেতে দেয় না", "বাড়িতে খাবার নেই"),
        "online_photos": ("ইন্টারনেটে একজন লোক আমার কাছে ছবি চাইছে", "সে নগ্ন ছবি চায়"),
    },
    "gu": {
        "hit": ("મારા સાવકા પિતા મને મારે છે અને મને ઘરે જવાની બીક લાગે છે", "પપ્પા મને મારે છે", "ભાઈએ મને માર્યો"),
        "hurt": ("તે મને ઈજા પહોંચાડે છે", "કાકાએ મને ઈજા પહોંચાડી"),
        "sexual": ("કાકા મને ખોટી રીતે અડે છે", "તેણે મારા પર બળાત્કાર કર્યો", "મારું જાતીય શોષણ થયું"),
        "suicide": ("મારે મરી જવું છે", "હું આત્મહત્યા કરવા માંગુ છું"),
        "self_harm": ("હું મારી જાતને કાપું છું", "હું મારી જાતને નુકસાન પહોંચાડું છું"),
        "afraid_home": ("મને ઘરે જવાની બીક લાગે છે", "ઘરે જવામાં ડર લાગે છે"),
        "weapon": ("તેણે મને છરીથી ધમકી આપી", "તેની પાસે છરી છે"),
        "death_threat": ("તેણે કહ્યું કે મને મારી નાખશે", "મને મારી નાખવાની ધમકી આપી"),
        "forced_marriage": ("મારા માતા-પિતા જબરદસ્તી મારા લગ્ન કરાવવા માંગે છે", "આ બળજબરીથી લગ્ન છે"),
        "fgm": ("તેઓ મારી ખતના કરાવવા માંગે છે", "છોકરીઓની ખતના"),
        "no_food": ("મને ખાવાનું નથી આપતા", "ઘરમાં ખાવાનું નથી"),
        "online_photos": ("ઇન્ટરનેટ પર એક માણસ મારી પાસે ફોટા માંગે છે", "તે નગ્ન ફોટા માંગે છે"),
    },
    "so": {
        "hit": (
            "ninka hooyaday qabo ayaa i garaaca waxaanan ka baqayaa inaan guriga aado", "aabahay wuu i garaacaa",
            "walaalkay ayaa i garaacay",
        ),
        "hurt": ("wuu i dhaawacay", "hooyaday way i dhibtaa oo i waxyeelaysaa"),
        "sexual": ("adeerkay ayaa meelaha qarsoon iga taabtay", "wuu i kufsaday", "waxaa la ii geystay xadgudub galmo"),
        "suicide": ("waxaan rabaa inaan dhinto", "waxaan rabaa inaan is dilo"),
        "self_harm": ("waan is jaraa habeenkii", "naftayda ayaan dhaawacaa"),
        "afraid_home": ("waxaan ka baqayaa inaan guriga aado", "waan ka cabsanayaa inaan guriga ku noqdo"),
        "weapon": ("mindi ayuu igu hanjabay", "walaalkay wuxuu haystaa mindi"),
        "death_threat": ("wuxuu igu hanjabay inuu i dilayo", "wuxuu yiri waan ku dilayaa"),
        "forced_marriage": ("qoyskaygu waxay rabaan inay igu qasbaan guur", "guur qasab ah ayaa la ii diyaariyey"),
        "fgm": ("waxay rabaan inay i gudaan fasaxa", "gudniinka gabdhaha ayey ii qorsheeyeen"),
        "no_food": ("cunto lama i siiyo guriga", "guriga cunto ma jirto"),
        "online_photos": ("nin internetka ku jira ayaa sawirro iga codsanaya", "wuxuu iga rabaa sawir qaawan"),
    },
    "it": {
        "hit": (
            "il mio patrigno mi picchia e ho paura di tornare a casa", "mio padre mi picchia con la cintura",
            "mi ha picchiato ieri",
        ),
        "hurt": ("mi fa del male", "mio zio mi ha ferito"),
        "sexual": ("mi tocca nelle parti intime", "mi ha violentata", "ha abusato di me"),
        "suicide": ("voglio morire", "voglio uccidermi", "non voglio più vivere"),
        "self_harm": ("mi taglio le braccia", "mi faccio del male da sola"),
        "afraid_home": ("ho paura di tornare a casa", "ho paura di andare a casa stasera"),
        "weapon": ("mi ha minacciato con un coltello", "mio fratello ha un coltello"),
        "death_threat": ("ha detto che mi ammazza", "mi ha minacciato di morte"),
        "forced_marriage": ("vogliono costringermi a sposarmi", "è un matrimonio forzato"),
        "fgm": ("vogliono farmi la mutilazione genitale", "parlano di infibulazione per me"),
        "no_food": ("non mi danno da mangiare", "a casa non c'è niente da mangiare"),
        "online_photos": ("un uomo su internet mi chiede foto nuda", "vuole che gli mandi foto senza vestiti"),
    },
    "fr": {
        "hit": (
            "mon beau-père me frappe et j'ai peur de rentrer à la maison", "mon père me bat avec sa ceinture",
            "il m'a frappé hier soir",
        ),
        "hurt": ("il me fait du mal", "ma mère m'a blessée"),
        "sexual": ("mon oncle me touche", "il m'a violée", "j'ai subi des attouchements"),
        "suicide": ("je veux mourir", "je vais me suicider", "j'ai plus envie de vivre"),
        "self_harm": ("je me scarifie", "je me coupe les bras le soir"),
        "afraid_home": ("j'ai peur de rentrer chez moi", "jai peur de rentrer a la maison"),
        "weapon": ("il m'a menacé avec un couteau", "mon frère a un couteau"),
        "death_threat": ("il a dit qu'il va me tuer", "il menace de me tuer"),
        "forced_marriage": ("mes parents veulent me marier de force", "c'est un mariage forcé"),
        "fgm": ("ils veulent m'exciser pendant les vacances", "on parle de mutilation génitale pour moi"),
        "no_food": ("on ne me donne pas à manger", "il n'y a rien à manger à la maison"),
        "online_photos": ("un homme sur internet me demande des photos nue", "il veut que je lui envoie des photos"),
    },
    "tr": {
        "hit": ("üvey babam beni dövüyor ve eve gitmekten korkuyorum", "babam beni kemerle dövüyor", "abim bana vurdu"),
        "hurt": ("annem bana zarar veriyor", "amcam beni yaraladı"),
        "sexual": ("amcam bana kötü şekilde dokunuyor", "bana tecavüz etti", "cinsel istismara uğradım"),
        "suicide": ("ölmek istiyorum", "kendimi öldürmek istiyorum", "intihar etmeyi düşünüyorum"),
        "self_harm": ("kendimi kesiyorum", "kendime zarar veriyorum"),
        "afraid_home": ("eve gitmekten korkuyorum", "eve donmekten korkuyorum"),
        "weapon": ("beni bıçakla tehdit etti", "abimin bıçağı var"),
        "death_threat": ("beni öldüreceğini söyledi", "beni ölümle tehdit etti"),
        "forced_marriage": ("ailem beni zorla evlendirmek istiyor", "bu zorla evlilik"),
        "fgm": ("kadın sünneti yaptırmak istiyorlar",),
        "no_food": ("bana yemek vermiyorlar", "evde yiyecek yok"),
        "online_photos": ("internette bir adam benden çıplak fotoğraf istiyor", "fotoğraf göndermemi istiyor"),
    },
    "lt": {
        "hit": ("mano patėvis mane muša ir bijau grįžti namo", "tėtis mane muša diržu", "brolis mane sumušė"),
        "hurt": ("mama mane skriaudžia", "dėdė mane sužalojo"),
        "sexual": ("dėdė mane liečia intymiose vietose", "mane išprievartavo", "patyriau seksualinę prievartą"),
        "suicide": ("noriu mirti", "noriu nusižudyti", "nenoriu gyventi"),
        "self_harm": ("aš pjaustausi rankas", "save žaloju"),
        "afraid_home": ("bijau grįžti namo", "bijau eiti namo"),
        "weapon": ("jis grasino man peiliu", "brolis turi peilį"),
        "death_threat": ("sakė, kad mane užmuš", "grasino mane nužudyti"),
        "forced_marriage": ("tėvai nori mane priverstinai ištekinti", "tai priverstinė santuoka"),
        "fgm": ("nori man atlikti lytinių organų žalojimą",),
        "no_food": ("man neduoda valgyti", "namuose nėra maisto"),
        "online_photos": ("vyras internete prašo mano nuogų nuotraukų", "nori, kad atsiųsčiau nuotraukas be drabužių"),
    },
    "ta": {
        "hit": (
            "என் மாற்றாந்தந்தை என்னை அடிக்கிறார், வீட்டுக்குப் போக பயமாக இருக்கிறது", "அப்பா என்னை அடிக்கிறார்",
            "அண்ணன் என்னை அடித்தான்",
        ),
        "hurt": ("அவர் என்னைக் காயப்படுத்தினார்", "மாமா என்னைத் துன்புறுத்துகிறார்"),
        "sexual": ("மாமா என்னைத் தவறாகத் தொடுகிறார்", "பாலியல் வன்கொடுமை செய்தார்", "பாலியல் துன்புறுத்தல்"),
        "suicide": ("நான் சாக விரும்புகிறேன்", "தற்கொலை செய்ய நினைக்கிறேன்"),
        "self_harm": ("நான் என்னை நானே வெட்டிக்கொள்கிறேன்", "எனக்கு நானே தீங்கு செய்கிறேன்"),
        "afraid_home": ("வீட்டுக்குப் போக பயமாக இருக்கிறது", "வீட்டுக்குப் போகப் பயமா இருக்கு"),
        "weapon": ("கத்தியால் மிரட்டினார்", "அவரிடம் கத்தி இருக்கிறது"),
        "death_threat": ("என்னைக் கொன்றுவிடுவேன் என்று சொன்னார்", "எனக்குக் கொலை மிரட்டல் விடுத்தார்"),
        "forced_marriage": ("எனக்குக் கட்டாயத் திருமணம் செய்ய விரும்புகிறார்கள்",),
        "fgm": ("பெண் உறுப்புச் சிதைப்பு செய்ய விரும்புகிறார்கள்",),
        "no_food": ("எனக்கு சாப்பாடு கொடுப்பதில்லை", "வீட்டில் சாப்பாடு இல்லை"),
        "online_photos": ("இணையத்தில் ஒருவர் என்னிடம் புகைப்படங்கள் கேட்கிறார்", "நிர்வாண புகைப்படம் கேட்கிறார்"),
    },
}

EVERYDAY: dict[str, tuple[str, ...]] = {
    "pl": (
        "cześć, jak się masz?", "nie rozumiem zadania domowego z matematyki", "co jest dzisiaj na obiad w stołówce?",
        "o której kończą się lekcje w piątek?", "boję się jutrzejszej klasówki z historii",
        "serce mi bije szybko po wf",
    ),
    "es": (
        "hola, ¿qué tal?", "no entiendo los deberes de matemáticas", "¿qué hay de comer hoy en el comedor?",
        "¿a qué hora termina el colegio?", "me duele la cabeza un poco", "tengo miedo del examen de mañana",
    ),
    "pt": (
        "olá, tudo bem?", "não percebo o trabalho de casa de matemática", "o que há para o almoço hoje na cantina?",
        "a que horas acaba a escola?", "tenho medo do teste de amanhã",
    ),
    "ro": (
        "bună, ce faci?", "nu înțeleg tema la matematică", "ce este azi la prânz la cantină?",
        "la ce oră se termină școala?", "mi-e frică de testul de mâine",
    ),
    "ar": (
        "مرحبا، كيف حالك؟", "لا أفهم واجب الرياضيات", "ماذا يوجد على الغداء اليوم؟", "متى تنتهي المدرسة؟",
        "أخاف من امتحان الغد",
    ),
    "ur": (
        "السلام علیکم، آپ کیسے ہیں؟", "مجھے ریاضی کا ہوم ورک سمجھ نہیں آیا", "آج دوپہر کے کھانے میں کیا ہے؟",
        "اسکول کب ختم ہوتا ہے؟", "مجھے کل کے امتحان سے ڈر لگتا ہے",
    ),
    "pa": (
        "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਤੁਹਾਡਾ ਕੀ ਹਾਲ ਹੈ?", "ਮੈਨੂੰ ਗਣਿਤ ਦਾ ਹੋਮਵਰਕ ਸਮਝ ਨਹੀਂ ਆਇਆ", "ਅੱਜ ਦੁਪਹਿਰ ਦੇ ਖਾਣੇ ਵਿੱਚ ਕੀ ਹੈ?",
        "ਸਕੂਲ ਕਦੋਂ ਖਤਮ ਹੁੰਦਾ ਹੈ?",
    ),
    "bn": (
        "আসসালামু আলাইকুম, কেমন আছেন?", "আমি অঙ্কের বাড়ির কাজ বুঝতে পারছি না", "আজ দুপুরের খাবারে কী আছে?",
        "স্কুল কখন শেষ হয়?",
    ),
    "gu": (
        "નમસ્તે, કેમ છો?", "મને ગણિતનું હોમવર્ક સમજાતું નથી", "આજે બપોરના જમવામાં શું છે?", "શાળા ક્યારે પૂરી થાય છે?",
        "મારા પપ્પા ડૉક્ટર છે",
    ),
    "so": (
        "iska warran, sidee tahay?", "ma fahmin shaqada guriga ee xisaabta", "maxaa qado ah maanta?",
        "goorma ayuu dugsigu xirmayaa?", "waxaan ka baqayaa imtixaanka berri",
    ),
    "it": (
        "buongiorno, come va?", "non capisco i compiti di matematica", "cosa c'è oggi a pranzo in mensa?",
        "a che ora finisce la scuola?", "mi fa male la testa", "domani mi taglio i capelli",
    ),
    "fr": (
        "bonjour, ça va ?", "je ne comprends pas les devoirs de maths",
        "qu'est-ce qu'il y a à la cantine aujourd'hui ?", "à quelle heure finit l'école ?",
        "je me coupe les cheveux ce week-end",
    ),
    "tr": (
        "merhaba, nasılsın?", "matematik ödevini anlamadım", "bugün öğle yemeğinde ne var?", "okul saat kaçta bitiyor?",
        "yarınki sınavdan korkuyorum",
    ),
    "lt": (
        "labas, kaip sekasi?", "nesuprantu matematikos namų darbų", "kas šiandien pietums valgykloje?",
        "kada baigiasi pamokos?",
    ),
    "ta": (
        "வணக்கம், எப்படி இருக்கிறீர்கள்?", "கணக்கு வீட்டுப்பாடம் புரியவில்லை", "இன்று மதிய உணவுக்கு என்ன?",
        "பள்ளி எப்போது முடியும்?",
    ),
}

OTHER_SENTENCES: dict[str, tuple[str, ...]] = {
    "pl": (
        "mama nie pozwala mi wychodzić z domu", "czy mogę porozmawiać z nauczycielką?", "brat mnie uderzył w twarz",
        "nie mam dzisiaj pieniędzy na obiad", "dziękuję za pomoc",
    ),
    "es": (
        "mi madre no sabe inglés, ¿me pueden ayudar?", "un chico de mi clase me pega todos los días",
        "¿dónde está la oficina del colegio?", "quiero hablar con alguien por favor", "no tengo uniforme nuevo",
    ),
    "pt": (
        "a minha mãe não fala inglês", "o meu pai bateu-me ontem à noite", "posso falar com a professora?",
        "não tenho dinheiro para o almoço", "estou com muito medo",
    ),
    "ro": (
        "mama mea nu vorbește engleză", "fratele meu m-a lovit ieri", "pot să vorbesc cu profesoara?",
        "nu am bani de prânz", "mulțumesc pentru ajutor",
    ),
    "it": (
        "mia madre non parla inglese", "un ragazzo mi picchia ogni giorno", "posso parlare con la maestra?",
        "non ho soldi per il pranzo", "grazie mille per l'aiuto",
    ),
    "fr": (
        "ma mère ne parle pas anglais", "un garçon de ma classe me frappe tous les jours",
        "est-ce que je peux parler à la maîtresse ?", "je n'ai pas d'argent pour la cantine", "merci beaucoup",
    ),
    "tr": (
        "annem İngilizce bilmiyor", "sınıfımdan bir çocuk bana her gün vuruyor", "öğretmenle konuşabilir miyim?",
        "öğle yemeği için param yok", "yardımın için teşekkürler",
    ),
    "lt": (
        "mano mama nekalba angliškai", "klasės draugas mane muša kiekvieną dieną", "ar galiu pasikalbėti su mokytoja?",
        "neturiu pinigų pietums", "labai ačiū už pagalbą",
    ),
    "so": (
        "hooyaday ma taqaan Ingiriisi", "wiil fasalkayga ka mid ah ayaa maalin kasta i garaaca",
        "ma la hadli karaa macallinka?", "lacag qado ma haysto", "aad baad u mahadsantahay",
    ),
    "ar": (
        "أمي لا تتكلم الإنجليزية", "ولد في صفي يضربني كل يوم", "هل يمكنني التحدث مع المعلمة؟", "ليس معي نقود للغداء",
        "شكرا جزيلا",
    ),
    "ur": (
        "میری امی انگریزی نہیں بولتیں", "میری کلاس کا ایک لڑکا مجھے روز مارتا ہے", "کیا میں استانی سے بات کر سکتا ہوں؟",
        "میرے پاس کھانے کے پیسے نہیں ہیں", "بہت شکریہ",
    ),
    "pa": (
        "ਮੇਰੀ ਮਾਂ ਅੰਗਰੇਜ਼ੀ ਨਹੀਂ ਬੋਲਦੀ", "ਮੇਰੀ ਕਲਾਸ ਦਾ ਇੱਕ ਮੁੰਡਾ ਮੈਨੂੰ ਰੋਜ਼ ਮਾਰਦਾ ਹੈ",
        "ਕੀ ਮੈਂ ਅਧਿਆਪਕ ਨਾਲ ਗੱਲ ਕਰ ਸਕਦਾ ਹਾਂ?", "ਬਹੁਤ ਧੰਨਵਾਦ", "ਮੇਰੇ ਕੋਲ ਦੁਪਹਿਰ ਦੇ ਖਾਣੇ ਲਈ ਪੈਸੇ ਨਹੀਂ ਹਨ",
    ),
    "bn": (
        "আমার মা ইংরেজি বলতে পারেন না", "আমার ক্লাসের একটা ছেলে আমাকে প্রতিদিন মারে",
        "আমি কি শিক্ষকের সাথে কথা বলতে পারি?", "অনেক ধন্যবাদ", "দুপুরের খাবারের টাকা নেই",
    ),
    "gu": (
        "મારી મમ્મી અંગ્રેજી નથી બોલતી", "મારા વર્ગનો એક છોકરો મને રોજ મારે છે", "શું હું શિક્ષક સાથે વાત કરી શકું?",
        "ખૂબ ખૂબ આભાર", "બપોરના જમવા માટે પૈસા નથી",
    ),
    "ta": (
        "என் அம்மாவுக்கு ஆங்கிலம் தெரியாது", "என் வகுப்பில் ஒரு பையன் தினமும் என்னை அடிக்கிறான்",
        "நான் ஆசிரியரிடம் பேசலாமா?", "மிக்க நன்றி", "மதிய உணவுக்குப் பணம் இல்லை",
    ),
}

ROMANISED: dict[str, tuple[str, ...]] = {
    "ur": (
        "mere abbu mujhe maarte hain", "mera sautela baap mujhe marta hai", "mujhe ghar jane se dar lagta hai",
        "main marna chahti hoon", "main khudkushi kar lunga", "wo mujhe galat jagah chhoota hai",
        "ghar wale zabardasti shaadi karwa rahe hain", "usne kaha wo mujhe jaan se maar dega",
    ),
    "pa": ("mainu maarda", "mera pyo mainu kutda hai", "mainu ghar jaan ton dar lagda", "main marna chahunda haan"),
    "bn": ("baba amake mare", "ami more jete chai", "amar bari jete bhoy lage", "amake jor kore biye dite chay"),
    "gu": ("papa mane mare che", "mare mari javu che", "mane ghare java ni bik lage che"),
}

#: Pupils, parents and staff writing in English: short replies, slang, text-speak, typos, disclosures, questions.
ENGLISH: tuple[str, ...] = (
    # short
    "ok", "thx", "lol", "hi", "yes", "no", "idk", "ok thx", "hiya", "ty", "k", "nah", "yeah", "yh", "ye", "brb",
    "gtg", "np", "omg", "wbu", "hru", "sup", "yo", "cool", "kk", "soz", "hmm", "ikr", "lmao", "bye", "cya", "wat",
    "wdym", "ily", "haha", "ttyl", "pls", "plz", "ta", "cheers", "naa", "hii", "noo", "mums", "uh huh", "see ya",
    "gotta go", "stop now", "okie dokie", "innit", "bruv", "safe", "wagwan", "ello", "oi",
    # pupils: slang, typos, text-speak
    "ngl my step dad hits me fr", "wat r u doin", "my stepdad hits me and im scared to go home",
    "im scared 2 go home 2nite", "can u tell miss sumthing 4 me", "whos the dsl at my skool",
    "i dont get my maths homwork", "wats 4 lunch 2day", "r we aloud fones at break",
    "sum1 keeps messagin me on snap n its weird", "this lad in yr 9 keeps pushin me", "mum n dad r always shoutin",
    "i wanna kms", "lowkey feel like nobody cares abt me", "bruh the wifi is so slow",
    "is it tru u cant have tiktok til ur 13", "he sed he'd leak my pics if i dont send more",
    "someone hacked my insta", "my mate sed shes been cuttin herself", "can i talk 2 sum1 pls",
    "no cap my bro took my phone n wont give it back", "hes been sendin me stuff i didnt ask for",
    "wen is the trip money due", "cnt find my pe kit", "i forgot my password again smh", "tbh i dunno who to tell",
    "yo whats good", "ur a bot arent u", "ok thx bye", "lol ur funny", "wot time does skool finish",
    "idk wat 2 do anymore", "pls help", "rolvenden primery", "is this chatgpt", "wat is a terrerist",
    "bhai that was peak", "yaar im so tired", "wallah i didnt do it",
    # parents
    "Hello, my son says another boy has been sending him threatening messages.",
    "Hi, what time does the school finish on Fridays?", "Can I get a copy of the online safety policy please?",
    "My daughter came home upset about something that happened at lunch.",
    "Who should I speak to about a safeguarding concern?", "Is my child allowed to bring a phone to school?",
    "My child won't tell me what's wrong but she's stopped eating.", "Thanks for your help",
    # staff
    "A Year 4 pupil told me her uncle touches her.", "How do I log a concern on CPOMS?",
    "Who is the deputy DSL this term?", "Where is the staff code of conduct?",
    "I've just started as a TA, what do I need to read?", "A student disclosed self-harm in my lesson today.",
    "Can staff use personal phones in the classroom?", "Please remind me of the filtering and monitoring procedure.",
    # written after the rule was fixed (held out once)
    "omg the canteen ran out of pizza again", "can i swap my options", "who do i email about the trip",
    "my phone got confiscated is that allowed", "sir said i can resubmit", "bro chill", "ye ye ill do it l8r",
    "nvm sorted it", "wheres room 12", "is there a uniform shop", "Do you have a policy on mobile phones for Year 6?",
    "thank u so much", "its peak", "deadass nobody told me", "aight bet", "same tbh", "yeah nah", "sounds good",
    "Could you let me know when parents evening is?", "Our daughter will be off sick today.", "lmk",
    "me n my mate had a fight at break", "my sister keeps taking my stuff", "whats the wifi password",
    "i got detention for nothing", "can i get a new planner", "miss is off today", "fr fr", "on god",
    "she blocked me on everything", "he keeps sending me weird msgs", "i feel sad all the time",
    "A parent has raised a concern about a supply teacher.", "Where do I record a low-level concern?",
    "Is the DSL in today?", "Who covers safeguarding when the DSL is on a course?", "k cool", "i dunno", "gg", "rip",
    "sus", "cap", "slay", "bet", "nah fam", "wyd", "wya", "hbu", "ikr lol", "ffs", "tysm", "ty miss", "wagwan bro",
    "innit tho", "mandem are moving mad", "ting is long", "its calm", "my dad hits me when he drinks",
    "im scared to go home tonight", "someone at school touched me", "i want to die", "i cut myself last night",
    "my uncle said he'd kill me", "they want me to marry my cousin", "a man online keeps asking for pics",
    "there's no food at home", "my brother brought a knife to school",
    "How can I support a pupil who has disclosed FGM risk?", "Is Urdu support available for parents?",
    "can i speak to someone in polish", "my mum only speaks romanian", "do u speak arabic", "Mi hijo is in year 3",
    "merci miss", "gracias", "namaste", "salaam", "hola",
)

#: Romanised South Asian everyday messages: not English, no harm, answered in English.
ROMANISED_EVERYDAY: tuple[tuple[str, str], ...] = (
    ("ur", "mera beta aaj school nahi aayega"), ("ur", "mujhe homework samajh nahi aaya"), ("ur", "aap kaise ho"),
    ("ur", "assalam alaikum mere bete ka lunch kahan hai"), ("pa", "tusi kiddan ho"), ("bn", "ami valo achi"),
    ("gu", "tame kem cho"),
)

HARM_CASES = [(code, kind, text) for code, kinds in HARM.items() for kind, texts in kinds.items() for text in texts]
EVERYDAY_CASES = [(code, text) for code, texts in EVERYDAY.items() for text in texts]
OTHER_CASES = [(code, text) for code, texts in OTHER_SENTENCES.items() for text in texts]
ROMANISED_CASES = [(code, text) for code, texts in ROMANISED.items() for text in texts]


def nlu_examples() -> list[str]:
    """Every English training example in data/nlu/*.yml (intents and synonyms; not regexes or lookups), with entity
    annotations replaced by their text."""
    texts = []
    for path in sorted(NLU_DIR.glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "regex" in item or "lookup" in item:
                continue
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip()
                    if text:
                        texts.append(text)
    return texts


# ------------------------------------------------------------------------------------------------- the data


def test_every_supported_language_has_a_file_and_it_is_honest_about_review(packs: LanguagePacks) -> None:
    """All 16 languages load and check; no translation claims a review it has not had."""
    assert {pack.code for pack in packs} == set(SUPPORTED)
    assert {"pl", "ur", "pa", "bn", "ro", "ar", "pt", "es", "so", "gu"} <= set(SUPPORTED)
    for pack in packs:
        assert pack.name == SUPPORTED[pack.code]
        if pack.code != "en":
            assert pack.review.status == REVIEW_DRAFT
            assert pack.back_translation is not None
            assert {term.id for term in pack.harm_terms} == set(HARM_KINDS)
    assert packs["ar"].direction == packs["ur"].direction == "rtl"
    assert packs["pl"].direction == packs["pa"].direction == "ltr"


def test_the_default_folder_is_under_the_data_dir() -> None:
    assert languages_dir() == settings.data_dir() / "safeguarding" / "languages"


@pytest.mark.parametrize("code", sorted(set(SUPPORTED) - {"en"}))
def test_each_language_has_enough_test_sentences(code: str) -> None:
    """At least 3 harm and 3 everyday sentences per language, and one harm sentence for every harm id."""
    assert set(HARM[code]) == set(HARM_KINDS)
    assert sum(len(texts) for texts in HARM[code].values()) >= 3
    assert len(EVERYDAY[code]) >= 3


@pytest.mark.parametrize("code", sorted(SUPPORTED))
def test_reply_gives_signposting_and_the_offer_with_english_underneath(packs: LanguagePacks, code: str) -> None:
    reply = packs.reply(code)
    english = packs["en"]
    assert reply.code == code and reply.direction == packs[code].direction
    assert len(reply.messages) == len(english.reply) == 4
    assert "999" in reply.messages[1] and "0800 1111" in reply.messages[2]
    for bubble, source in zip(reply.messages, english.reply):
        assert bubble.endswith(source)  # the English underneath
        if code != "en":
            assert bubble != source
    assert [b.key for b in reply.buttons] == ["yes", "no"]
    assert [b.english for b in reply.buttons] == ["Yes, tell a member of staff", "No thank you"]
    assert all(b.title for b in reply.buttons)


@pytest.mark.parametrize("code", sorted(SUPPORTED))
def test_handed_off_names_the_dsl_and_the_reference(packs: LanguagePacks, code: str) -> None:
    reply = packs.handed_off(code, dsl="Claire Richardson, Designated Safeguarding Lead", reference="KMS-0042")
    text = reply.text
    assert text.count("Claire Richardson, Designated Safeguarding Lead") == (1 if code == "en" else 2)
    assert "KMS-0042" in text and "999" in text and "0800 1111" in text
    assert "{" not in text and "}" not in text
    assert "not your fault" in text and "cannot keep it a secret" in text and "interpreter" in text
    without = packs.handed_off(code, dsl="the Designated Safeguarding Lead")
    assert len(without.messages) == len(reply.messages) - 1  # the reference bubble is left out
    assert "Your reference is" not in without.text and "{" not in without.text


def test_undetermined_language_gets_the_english_reply(packs: LanguagePacks) -> None:
    assert packs.reply(UNDETERMINED).messages == packs.reply("en").messages
    assert packs.reply(UNDETERMINED).code == "en"


def test_handed_off_needs_the_dsl_and_a_known_language(packs: LanguagePacks) -> None:
    with pytest.raises(ValueError, match="dsl must name the Designated Safeguarding Lead"):
        packs.handed_off("pl", dsl="  ")
    with pytest.raises(KeyError, match="no language pack 'xx'"):
        packs.reply("xx")


def test_templates_are_fixed_text_in_the_right_script(packs: LanguagePacks) -> None:
    """Bubbles in a non-Latin language are in its script (the service's name and placeholders aside): nothing is
    left untranslated by accident."""
    scripts = {"ar": "Arab", "ur": "Arab", "pa": "Guru", "bn": "Beng", "gu": "Gujr", "ta": "Taml"}
    for code, script in scripts.items():
        for bubble in (*packs[code].reply, *packs[code].handed_off):
            letters = [c for c in re.sub(r"Childline|\{\w+\}", "", bubble) if c.isalpha()]
            assert all(script_of(c) == script for c in letters), (code, bubble)


# ------------------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("code, kind, text", HARM_CASES)
def test_harm_sentences_are_their_language_with_that_harm(screen: LanguageScreen, code: str, kind: str,
                                                         text: str) -> None:
    verdict = screen.detect(text)
    assert verdict.code == code, verdict
    assert f"{code}:{kind}" in verdict.harm_terms, verdict
    assert verdict.has_harm and not verdict.is_english


@pytest.mark.parametrize("code, text", EVERYDAY_CASES)
def test_everyday_sentences_are_their_language_with_no_harm(screen: LanguageScreen, code: str, text: str) -> None:
    verdict = screen.detect(text)
    assert verdict.code == code, verdict
    assert verdict.harm_terms == (), verdict


@pytest.mark.parametrize("code, text", OTHER_CASES)
def test_other_natural_sentences_are_their_language(screen: LanguageScreen, code: str, text: str) -> None:
    assert screen.detect(text).code == code


@pytest.mark.parametrize("text", ENGLISH)
def test_english_including_slang_and_text_speak_is_english(screen: LanguageScreen, text: str) -> None:
    verdict = screen.detect(text)
    assert verdict.is_english, verdict
    assert verdict.harm_terms == () and verdict.reply_code == "en"


def test_english_list_is_long_and_varied() -> None:
    assert len(ENGLISH) >= 60 and len(set(ENGLISH)) == len(ENGLISH)
    assert {"ok", "thx", "lol", "hi", "yes", "no", "idk"} <= set(ENGLISH)


@pytest.mark.parametrize("text, code", [
    ("mój ojczym mnie bije i boję się wracać do domu", "pl"),
    ("mi padrastro me pega y tengo miedo de volver a casa", "es"),
])
def test_the_issue_examples_are_handed_off_with_their_language(screen: LanguageScreen, text: str, code: str) -> None:
    """"My stepfather hits me and I'm afraid to go home", in Polish and in Spanish."""
    verdict = screen.detect(text)
    assert (verdict.code, verdict.is_english, verdict.has_harm) == (code, False, True)
    assert {f"{code}:hit", f"{code}:afraid_home"} <= set(verdict.harm_terms)
    assert verdict.urgency == "immediate" and verdict.reply_code == code
    assert verdict.category == "emotional_abuse"  # afraid to go home is the more urgent of the two


@pytest.mark.parametrize("code, text", ROMANISED_CASES)
def test_romanised_harm_is_found_and_answered_in_english(screen: LanguageScreen, code: str, text: str) -> None:
    verdict = screen.detect(text)
    assert (verdict.code, verdict.script, verdict.romanised, verdict.reply_code) == (code, "Latn", True, "en")
    assert any(term.startswith(f"{code}:") for term in verdict.harm_terms), verdict


@pytest.mark.parametrize("code, text", ROMANISED_EVERYDAY)
def test_romanised_everyday_messages_are_not_english(screen: LanguageScreen, code: str, text: str) -> None:
    verdict = screen.detect(text)
    assert (verdict.code, verdict.harm_terms, verdict.reply_code) == (code, (), "en")


@pytest.mark.parametrize("text", ["ciao, come stai?", "hola", "gracias", "merci", "salaam", "dziekuje"])
def test_short_greetings_without_telltale_letters_stay_english(screen: LanguageScreen, text: str) -> None:
    """A known limit, chosen on purpose: too short to tell from English slang, so Rasa answers them (they are
    greetings and thanks, with no harm words). "dziękuję" with its Polish letter is recognised."""
    assert screen.detect(text).is_english
    assert screen.detect("dziękuję").code == "pl"


@pytest.mark.parametrize("text, script", [
    ("Привет, как дела?", "Zzzz"),  # Russian: no templates
    ("मुझे घर जाने से डर लगता है", "Zzzz"),  # Hindi in Devanagari: no templates
    ("你好", "Zzzz"),
])
def test_scripts_without_templates_are_undetermined(screen: LanguageScreen, text: str, script: str) -> None:
    verdict = screen.detect(text)
    assert (verdict.code, verdict.script, verdict.is_english, verdict.reply_code) == (UNDETERMINED, script, False,
                                                                                      "en")


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "12345", "?!"])
def test_no_letters_is_english_with_no_confidence(screen: LanguageScreen, text: str) -> None:
    assert screen.detect(text) == LanguageVerdict("en", "English", 0.0, script="Zyyy")


def test_harm_in_another_script_inside_english_counts(screen: LanguageScreen) -> None:
    verdict = screen.detect("my dad مجھے مارتا ہے every day")
    assert (verdict.code, verdict.harm_terms, verdict.reply_code) == ("ur", ("ur:hit",), "en")


def test_harm_at_the_end_of_a_long_message_is_found(screen: LanguageScreen) -> None:
    """Lingua reads the start of a long message; the lexicons read all of it."""
    text = "nie wiem co robić. " * 200 + "tata bije mnie pasem"
    verdict = screen.detect(text)
    assert verdict.code == "pl" and "pl:hit" in verdict.harm_terms


def test_arabic_and_urdu_are_told_apart(screen: LanguageScreen) -> None:
    assert screen.detect("أريد أن أتكلم مع المعلمة عن الواجب").code == "ar"
    assert screen.detect("میں استانی سے ہوم ورک کے بارے میں بات کرنا چاہتی ہوں").code == "ur"


def test_school_names_are_masked_before_detection() -> None:
    """Without the school names, "rolvenden primery" reads as Spanish; with them (the default) it is English."""
    bare = LanguageScreen(names=())
    assert not bare.detect("rolvenden primery").is_english
    assert LanguageScreen(names=["rolvenden"]).detect("rolvenden primery").is_english


def test_the_lexicons_never_match_english_in_the_project(packs: LanguagePacks) -> None:
    """No pattern of any language (native or romanised) matches an English training example or test message."""
    matcher = LexiconMatcher(packs)
    hits = [(text, matcher.match(fold(text))) for text in [*nlu_examples(), *ENGLISH]]
    assert [hit for hit in hits if hit[1]] == []


def test_no_language_matches_another_languages_everyday_sentences(packs: LanguagePacks) -> None:
    """All lexicons run on every message that is not English, so no language's patterns may fire on any
    language's everyday sentences."""
    matcher = LexiconMatcher(packs)
    assert [(code, text, matcher.match(fold(text))) for code, text in EVERYDAY_CASES if matcher.match(fold(text))] == []


def test_false_non_english_rate_on_the_rasa_training_examples(screen: LanguageScreen) -> None:
    """Measured, not asserted: how many English NLU examples the screen calls another language (report it)."""
    texts = nlu_examples()
    wrong = [(text, screen.detect(text).code) for text in texts]
    wrong = [(text, code) for text, code in wrong if code != "en"]
    print(f"\nfalse non-English: {len(wrong)} of {len(texts)} NLU examples ({100 * len(wrong) / len(texts):.2f}%)"
          f"{': ' + repr(wrong[:10]) if wrong else ''}")
    assert len(texts) > 1000


def test_detection_accuracy_per_language(screen: LanguageScreen) -> None:
    """Measured over every test sentence of each language; printed for the report."""
    by_code: dict[str, list[bool]] = {}
    for code, text in [(c, t) for c, _, t in HARM_CASES] + EVERYDAY_CASES + OTHER_CASES:
        by_code.setdefault(code, []).append(screen.detect(text).code == code)
    print("\n" + ", ".join(f"{code} {sum(v)}/{len(v)}" for code, v in sorted(by_code.items())))
    assert all(sum(v) / len(v) >= 0.9 for v in by_code.values())


# ------------------------------------------------------------------------------------------------- matching


def test_fold_reads_phone_spellings_alike() -> None:
    assert fold("Boję  się WRACAĆ") == fold("boje sie wracac") == "boje sie wracac"
    assert fold("ŞTEFAN ţară ș ț ğ ı") == "stefan tara s t g i"
    assert fold("أبي يضربني") == fold("ابي يضربني")
    assert fold("میری") == fold("ميري")  # Urdu and Arabic yeh
    assert fold("ਜ਼ਬਰਦਸਤੀ") == fold("ਜਬਰਦਸਤੀ")  # nukta
    assert fold("don’t") == "don't"


def test_patterns_match_whole_words_in_every_script() -> None:
    assert compile_pattern("mnie (?:\\S+ ){0,2}bij{L}*").search(fold("tata mnie bije"))
    assert not compile_pattern("bij{L}*").search("zabije")
    assert compile_pattern("ਮਾਰ{L}*").search(fold("ਉਹ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ"))
    assert not compile_pattern("ਮਾਰ").search(fold("ਉਹ ਮੈਨੂੰ ਮਾਰਦਾ ਹੈ"))  # a vowel sign is part of the word
    assert compile_pattern("boję się").search(fold("boje sie"))  # patterns are folded like the text
    assert compile_pattern("\\S*ضرب(?:ون|و|وا)?(?:ني|نا)").search(fold("بيضربني"))


def test_romanised_patterns_are_specific_enough_for_english_text(screen: LanguageScreen) -> None:
    for text in ("my mate said mujhe lol", "ghar is a word", "mare is a horse", "main road", "more jete"):
        verdict = screen.detect(text)
        assert verdict.harm_terms == (), (text, verdict)


# ------------------------------------------------------------------------------------------------- the verdict


def test_verdict_round_trips_and_is_safe_to_log() -> None:
    verdict = LanguageVerdict("pl", "Polish", 0.99, ("pl:hit", "pl:afraid_home"))
    assert LanguageVerdict.from_dict(verdict.to_dict()) == verdict
    assert verdict.to_dict() == {"code": "pl", "name": "Polish", "confidence": 0.99,
                                 "harm_terms": ["pl:hit", "pl:afraid_home"], "script": "Latn"}
    assert (verdict.urgency, verdict.category) == ("immediate", "emotional_abuse")
    assert LanguageVerdict("en", "English", 0.9).urgency == "none"
    assert LanguageVerdict("en", "English", 0.9).category == "other"
    assert LanguageVerdict("ur", "Urdu", 0.5, script="Arab").reply_code == "ur"
    assert LanguageVerdict("ur", "Urdu", 0.5, script="Latn").reply_code == "en"
    assert NON_LATIN == {"pa", "ur", "bn", "ar", "gu", "ta"}


@pytest.mark.parametrize("kwargs, message", [
    ({"code": "xx"}, "unknown language code 'xx'; known: en, pl"),
    ({"confidence": 1.5}, "confidence must be between 0 and 1, got 1.5"),
    ({"harm_terms": ("pl:kicked",)}, "unknown harm term 'pl:kicked'; expected <language code>:<hit|hurt"),
    ({"harm_terms": ("a mój ojczym mnie bije",)}, "unknown harm term"),
])
def test_verdict_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"code": "pl", "name": "Polish", "confidence": 0.5, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        LanguageVerdict(**values)  # type: ignore[arg-type]


def test_detect_rejects_non_text(screen: LanguageScreen) -> None:
    with pytest.raises(ValueError, match="text must be a string, got bytes"):
        screen.detect(b"hola")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- loading


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "languages"
    folder.mkdir()
    for path in languages_dir().glob("*.yml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _edit(folder: Path, code: str, change) -> Path:  # type: ignore[no-untyped-def]
    path = folder / f"{code}.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


_DELETE = object()


def _set(keys: str, value: object):  # type: ignore[no-untyped-def]
    def change(raw: dict) -> None:  # type: ignore[type-arg]
        *parents, last = keys.split(".")
        for key in parents:
            raw = raw[int(key)] if isinstance(raw, list) else raw[key]
        if value is _DELETE:
            del raw[last]
        elif isinstance(raw, list):
            raw[int(last)] = value
        else:
            raw[last] = value
    return change


@pytest.mark.parametrize("code, keys, value, message", [
    ("pl", "native_name", _DELETE, "pl.yml: missing native_name"),
    ("pl", "back_translation", _DELETE, "pl.yml: missing back_translation"),
    ("pl", "name", "Polski", "pl.yml: name is 'Polski'; for 'pl' it must be 'Polish'"),
    ("ar", "direction", "right", "ar.yml: direction must be one of ltr, rtl, got 'right'"),
    ("es", "reply.bubbles.0", "Gracias, {name}.", "es.yml: reply.bubbles bubble 1 has unknown placeholders "
                                                  "['name']; allowed: {dsl}, {reference}"),
    ("es", "reply.bubbles.1", "Llama al 999 {dsl}.", "es.yml: reply.bubbles cannot have placeholders"),
    ("es", "handed_off.bubbles.5", "Referencia: {reference", "es.yml: handed_off.bubbles bubble 6: "),
    ("es", "handed_off.bubbles.1", "He pasado tu mensaje.", "es.yml: handed_off must say who the message went to "
                                                             "with {dsl}"),
    ("pt", "handed_off.bubbles.2", "Fala {reference}.", "pt.yml: handed_off bubble 3 has placeholders "
                                                         "['reference']; the English has []"),
    ("ro", "reply.bubbles", ["Bună."], "ro.yml: back_translation.reply has 4 bubbles; reply.bubbles has 1"),
    ("ro", "reply.buttons", {"yes": "Da"}, "ro.yml: reply.buttons.no must be a non-empty string"),
    ("ro", "back_translation.handed_off", ["Thank you."], "ro.yml: back_translation.handed_off has 1 bubbles; "
                                                          "handed_off.bubbles has 6"),
    ("so", "review.status", "", "so.yml: review.status must be a non-empty string"),
    ("fr", "harm_terms.0.id", "kicked", "fr.yml: harm_terms 'kicked': unknown id; known: hit, hurt"),
    ("fr", "harm_terms.1.id", "hit", "fr.yml: harm_terms 'hit': duplicate id"),
    ("fr", "harm_terms.0.patterns", ["me (frappe"], "fr.yml: harm_terms 'hit': pattern 'me (frappe' does not "
                                                    "compile: missing ), unterminated subpattern"),
    ("fr", "harm_terms.0.patterns", ["(?:x)?"], "fr.yml: harm_terms 'hit': pattern '(?:x)?' matches an empty "
                                                "message"),
    ("fr", "harm_terms.0.patterns", [], "fr.yml: harm_terms 'hit': patterns must be a non-empty list"),
    ("it", "harm_terms", [{"id": "hit", "patterns": ["mi picchia"]}], "it.yml: harm_terms has no entry for hurt, "
                                                                      "sexual"),
    ("ur", "romanised_harm_terms.0.patterns", ["maarte"], "ur.yml: romanised_harm_terms 'hit': romanised pattern "
                                                          "'maarte' must be at least two words"),
    ("ur", "romanised_markers", ["Hai"], "ur.yml: romanised_markers must be a list of lower-case words"),
    ("lt", "romanised_markers", ["labas"], "lt.yml: romanised_harm_terms and romanised_markers are for languages "
                                           "written in another script"),
])
def test_malformed_language_files_are_exact_errors(tmp_path: Path, code: str, keys: str, value: object,
                                                  message: str) -> None:
    folder = _copy(tmp_path)
    _edit(folder, code, _set(keys, value))
    with pytest.raises(LanguageDataError, match=re.escape(message)):
        LanguagePacks.load(folder)


def test_a_missing_language_file_is_an_exact_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "so.yml").unlink()
    with pytest.raises(LanguageDataError, match="no language file for so; every supported language needs "
                                                "data/safeguarding/languages/<code>.yml"):
        LanguagePacks.load(folder)


def test_unknown_files_broken_yaml_and_missing_folder_are_exact_errors(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "xx.yml").write_text("name: Klingon\n", encoding="utf-8")
    with pytest.raises(LanguageDataError, match=r"xx\.yml: 'xx' is not a supported language code; known: en, pl"):
        LanguagePacks.load(folder)
    (folder / "xx.yml").unlink()
    (folder / "pl.yml").write_text("name: [Polish\n", encoding="utf-8")
    with pytest.raises(LanguageDataError, match=r"pl\.yml is not valid YAML"):
        load_pack(folder / "pl.yml")
    (folder / "pl.yml").write_text("- Polish\n", encoding="utf-8")
    with pytest.raises(LanguageDataError, match=r"pl\.yml must be a mapping with name, native_name, direction"):
        load_pack(folder / "pl.yml")
    with pytest.raises(LanguageDataError, match="no language folder at .*nowhere"):
        LanguagePacks.load(tmp_path / "nowhere")


def test_bubble_counts_must_match_the_english(tmp_path: Path) -> None:
    folder = _copy(tmp_path)

    def one_bubble(raw: dict) -> None:  # type: ignore[type-arg]
        raw["reply"]["bubbles"] = ["Bună."]
        raw["back_translation"]["reply"] = ["Hello."]

    _edit(folder, "ro", one_bubble)
    with pytest.raises(LanguageDataError, match=r"ro\.yml: reply has 1 bubbles; English has 4 and each bubble is "
                                                r"shown with its English underneath"):
        LanguagePacks.load(folder)


def test_buttons_may_be_written_with_quoted_or_bare_yes_and_no(tmp_path: Path) -> None:
    """PyYAML reads a bare `yes:` key as true; both spellings load the same labels."""
    text = (languages_dir() / "pl.yml").read_text(encoding="utf-8")
    assert "\n    yes: " in text
    quoted = tmp_path / "pl.yml"
    quoted.write_text(text.replace("\n    yes: ", '\n    "yes": ').replace("\n    no: ", '\n    "no": '),
                      encoding="utf-8")
    assert load_pack(quoted).buttons == load_pack(languages_dir() / "pl.yml").buttons
    assert load_pack(quoted).buttons.yes == "Tak, przekaż pracownikowi szkoły"


# ------------------------------------------------------------------------------------------------- running


def test_nothing_heavy_at_import_or_construction() -> None:
    """Importing the module and constructing a screen loads neither lingua nor the data."""
    code = ("import sys; from bot.safeguarding.language import LanguageScreen; s = LanguageScreen(); "
            "print('lingua' in sys.modules, s._detector is None, s._packs is None)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "True", "True"], out.stderr


def test_warm_up_is_thread_safe() -> None:
    fresh = LanguageScreen()
    threads = [threading.Thread(target=fresh.warm_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    detector = fresh._detector
    assert detector is not None and fresh.warm_up()._detector is detector
    assert fresh.detect("tata bije mnie pasem").harm_terms == ("pl:hit",)


def test_detect_is_fast_after_warm_up(screen: LanguageScreen) -> None:
    """Well under 5 ms a short message (measured: about 0.3 ms on average on the development machine)."""
    texts = [*ENGLISH[:60], *(text for _, _, text in HARM_CASES[:60])]
    for text in texts:
        screen.detect(text)
    timings = []
    for text in texts:
        start = time.perf_counter()
        screen.detect(text)
        timings.append((time.perf_counter() - start) * 1000)
    print(f"\ndetect(): median {statistics.median(timings):.2f} ms, max {max(timings):.2f} ms")
    assert statistics.median(timings) < 5.0
